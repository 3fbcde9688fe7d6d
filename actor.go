package accesstoken

import (
	"fmt"
	"strings"
)

// SystemActorPrefix begins the name of every actor that is not a user: see
// [SystemActor].
const SystemActorPrefix = "system:"

// maxSystemActorName is the longest name SystemActor accepts after the
// prefix.
const maxSystemActorName = 64

// SystemActor returns the name of an actor that is not a user, for what the
// forge itself does to tokens, such as revoking a token that a scanner
// found in a push ([Manager.RevokeLeaked]) or every token of a deactivated
// account ([Manager.RevokeOwner]): [SystemActorPrefix] followed by name,
// as in "system:push-protection". name is 1 to 64 lower-case letters,
// digits, '-', '_' or '.', beginning with a letter; any other is an error
// matching [ErrBadOwner] and [ErrInvalidInput].
//
// No user can have such a name: the Manager refuses owners, and the actors
// of users' operations, whose names begin with "system:" in any case
// ([ErrBadOwner]). So a token's RevokedBy, and an [Event]'s Actor, name a
// user or a system actor, and [IsSystemActor] tells which.
func SystemActor(name string) (string, error) {
	ok := len(name) > 0 && len(name) <= maxSystemActorName && name[0] >= 'a' && name[0] <= 'z'
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		// The name is not quoted: a caller that mixed its arguments up
		// could have passed a secret.
		return "", invalid(ErrBadOwner, fmt.Sprintf("invalid system actor name: want a lower-case letter followed by up to %d lower-case letters, digits, '-', '_' or '.'", maxSystemActorName-1))
	}
	return SystemActorPrefix + name, nil
}

// IsSystemActor reports whether s is the name of a system actor, as
// [SystemActor] makes them.
func IsSystemActor(s string) bool {
	if len(s) <= len(SystemActorPrefix) || s[:len(SystemActorPrefix)] != SystemActorPrefix {
		return false
	}
	_, err := SystemActor(s[len(SystemActorPrefix):])
	return err == nil
}

// checkSystemActor checks the actor of a revocation that no user makes.
func checkSystemActor(actor string) error {
	if !IsSystemActor(actor) {
		return invalid(ErrBadOwner, "the actor is not a system actor: make its name with SystemActor")
	}
	return nil
}

// checkOwner checks a user's name: an owner, or the actor of a user's
// operation. Names of system actors are not users' names.
func checkOwner(what, s string) error {
	if err := checkName(ErrBadOwner, what, s, false); err != nil {
		return err
	}
	if len(s) >= len(SystemActorPrefix) && strings.EqualFold(s[:len(SystemActorPrefix)], SystemActorPrefix) {
		return invalid(ErrBadOwner, what+" begins with "+SystemActorPrefix+", which names system actors, not users")
	}
	return nil
}
