package accesstoken_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

func TestSecretInUnexportedField(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	s := iss.Secret.Reveal()
	type pending struct {
		user   string
		secret accesstoken.Secret
	}
	type issuedCopy struct{ iss accesstoken.Issued }
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "pending", pending{"alice", iss.Secret})
	for _, out := range []string{
		fmt.Sprintf("%v", pending{"alice", iss.Secret}), fmt.Sprintf("%+v", issuedCopy{*iss}),
		fmt.Sprintf("%#v", pending{"alice", iss.Secret}), logged.String(),
	} {
		if strings.Contains(out, s) || strings.Contains(out, s[4:20]) {
			t.Errorf("secret printed: %q", strings.ReplaceAll(out, s, "<SECRET>"))
		}
	}
	require.Equal(t, "", accesstoken.Secret{}.Reveal())
}

func TestSecretNeverPrints(t *testing.T) {
	m := newManager(t)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	s := iss.Secret.Reveal()
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("issued", "secret", iss.Secret, "issued", iss)
	js, err := json.Marshal(iss)
	require.NoError(t, err)
	outputs := []string{
		fmt.Sprint(iss.Secret), fmt.Sprintf("%v %+v %#v %s %q %x", iss.Secret, iss.Secret, iss.Secret, iss.Secret, iss.Secret, iss.Secret),
		fmt.Sprintf("%v %+v %#v", iss, *iss, iss), fmt.Sprint(iss.Token), logged.String(), string(js),
	}
	for _, out := range outputs {
		if strings.Contains(out, s) || strings.Contains(out, s[4:20]) {
			t.Errorf("secret printed in %q", out)
		}
	}
	require.Contains(t, fmt.Sprint(iss.Secret), "REDACTED")
}
