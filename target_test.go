package accesstoken_test

import (
	"testing"

	"github.com/forgekit/accesstoken"
)

func TestTargetCovers(t *testing.T) {
	p, r := accesstoken.ProjectTarget("demo"), accesstoken.RepositoryTarget("demo", "hello")
	hello, world := accesstoken.Resource{Project: "demo", Repository: "hello"}, accesstoken.Resource{Project: "demo", Repository: "world"}
	otherHello := accesstoken.Resource{Project: "other", Repository: "hello"}
	personal := accesstoken.Resource{Repository: "hello"}
	tests := []struct {
		t    accesstoken.Target
		res  accesstoken.Resource
		want bool
	}{
		{p, hello, true}, {p, world, true}, {p, otherHello, false}, {p, personal, false},
		{r, hello, true}, {r, world, false}, {r, otherHello, false}, {r, personal, false},
		{accesstoken.RepositoryTarget("", "hello"), personal, true},
		{accesstoken.RepositoryTarget("", "hello"), hello, false},
		{accesstoken.Target{}, accesstoken.Resource{}, false},
	}
	for _, tt := range tests {
		if got := tt.t.Covers(tt.res); got != tt.want {
			t.Errorf("%v.Covers(%v) = %v; want %v", tt.t, tt.res, got, tt.want)
		}
	}
}
