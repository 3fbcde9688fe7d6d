package accesstoken

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Get returns the token with the given ID if actor may see it: actor owns
// it or may manage tokens of its target. Otherwise, and if there is no such
// token, it returns [ErrNotFound], so that IDs cannot be probed.
func (m *Manager) Get(ctx context.Context, actor string, id uuid.UUID) (Token, error) {
	if err := checkOwner("actor", actor); err != nil {
		return Token{}, err
	}
	rec, err := m.byID(ctx, id)
	if err != nil {
		return Token{}, err
	}
	if rec.Owner != actor {
		if err := m.mayManage(ctx, actor, rec.Target); errors.Is(err, ErrForbidden) {
			return Token{}, ErrNotFound
		} else if err != nil {
			return Token{}, err
		}
	}
	return rec.Token, nil
}

func (m *Manager) byID(ctx context.Context, id uuid.UUID) (Record, error) {
	rec, err := m.store.ByID(ctx, id)
	if err != nil {
		return Record{}, storeErr(err, ErrNotFound)
	}
	return rec, nil
}
