package memstore

import (
	"sync/atomic"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// slot is one token. It holds no pointers. Times are Unix microseconds
// (zeroTime for the zero time); names are indexes into Store.names. Fields
// other than lastUsed change only with Store.mu held for writing.
type slot struct {
	id                              uuid.UUID
	digest                          accesstoken.Digest
	replacedBy                      uuid.UUID
	owner, project, repo, revokedBy uint32
	scopes                          uint32
	nextDesc                        uint32 // the next slot plus one with this one's byDesc key; 0 for none
	created, expires, revoked       int64
	lastUsed                        atomic.Int64
}
