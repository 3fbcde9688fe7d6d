package accesstoken_test

import (
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

func TestSystemActor(t *testing.T) {
	for _, name := range []string{"push-protection", "a", "account.deactivation_2", strings.Repeat("x", 64)} {
		actor, err := accesstoken.SystemActor(name)
		require.NoError(t, err, name)
		require.Equal(t, "system:"+name, actor)
		require.True(t, accesstoken.IsSystemActor(actor), actor)
	}
	for _, name := range []string{"", "Push", "1x", "-x", "a b", "a:b", "é", strings.Repeat("x", 65), "gat_" + strings.Repeat("A", 49)} {
		_, err := accesstoken.SystemActor(name)
		require.ErrorIs(t, err, accesstoken.ErrBadOwner, "%q", name)
		require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
		if name != "" {
			require.NotContains(t, err.Error(), name, "the error quotes the name")
		}
	}
	for _, s := range []string{"alice", "system:", "System:x", "system:X", "system", "xsystem:a", "system:a b"} {
		require.False(t, accesstoken.IsSystemActor(s), s)
	}
}
