package gitreq

// ValidGitProtocol reports whether p is a value git sends in the
// Git-Protocol header, such as "version=2": letters, digits and
// "=:,._-", 1 to 256 bytes. A server passes a valid one to git as
// GIT_PROTOCOL and ignores any other.
func ValidGitProtocol(p string) bool {
	if p == "" || len(p) > 256 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '=' || c == ':' || c == ',' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
