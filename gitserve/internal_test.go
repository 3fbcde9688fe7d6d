package gitserve

import "testing"

func TestStripCGIHeaders(t *testing.T) {
	h := map[string][]string{"authorization": {"x"}, "COOKIE": {"y"}, "proxy-authorization": {"z"}, "Accept": {"a"}, "Authorizations": {"b"},
		"Git-Protocol": {"version=2"}, "git-protocol": {"version=2"}, "Git_protocol": {"version=2"}, "Proxy_authorization": {"w"}, "Content-Type": {"c"}}
	stripCGIHeaders(h)
	if len(h) != 3 || h["Accept"] == nil || h["Authorizations"] == nil || h["Content-Type"] == nil {
		t.Fatalf("after stripCGIHeaders: %v", h)
	}
}
