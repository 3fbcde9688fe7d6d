package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Flashes: what a page shows once, after a form that changed something
// redirects to it (Post/Redirect/Get), so that reloading the page does
// not submit the form again. After creating or rotating a token the
// flash carries its secret: the database row holds it sealed
// (AES-256-GCM) with a key that only a cookie of the browser that made
// the request holds. Neither the database nor the cookie alone reveals
// the secret; the row is deleted when the page shows it, so it is shown
// once, and after 10 minutes if it never is. A flash is bound to the
// session and to the page it is for.

const (
	flashCookiePrefix = "forge_flash_"
	flashLifetime     = 10 * time.Minute
)

// Kinds of flash.
const (
	flashCreated = "created"
	flashRotated = "rotated"
	flashRevoked = "revoked"
)

// flash is one message for a page.
type flash struct {
	Kind    string
	TokenID uuid.UUID // the token created, the new token of a rotation, the token revoked
	Secret  string    // for flashCreated and flashRotated
}

// setFlash stores a flash for the page and sets its cookie.
func (s *web) setFlash(w http.ResponseWriter, r *request, pagePath string, f flash) error {
	id := strings.ToLower(rand.Text())
	key := make([]byte, 32)
	rand.Read(key)
	sealed := ""
	if f.Secret != "" {
		b, err := seal(key, []byte(f.Secret), flashAAD(id, pagePath, f))
		if err != nil {
			return err
		}
		sealed = base64.RawStdEncoding.EncodeToString(b)
	}
	if err := s.db.AddFlash(r.Context(), id, r.SessionKey, pagePath, f.Kind, f.TokenID.String(), sealed); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookiePrefix + id, Value: base64.RawURLEncoding.EncodeToString(key),
		Path: pagePath, MaxAge: int(flashLifetime.Seconds()), HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure,
	})
	return nil
}

// takeFlashes returns the flashes the request's cookies hold for the
// page, deleting them and their cookies: each is shown once.
func (s *web) takeFlashes(w http.ResponseWriter, r *request, pagePath string) []flash {
	var out []flash
	for _, c := range r.Cookies() {
		id, ok := strings.CutPrefix(c.Name, flashCookiePrefix)
		if !ok {
			continue
		}
		http.SetCookie(w, &http.Cookie{Name: c.Name, Path: pagePath, MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: s.secure})
		key, err := base64.RawURLEncoding.DecodeString(c.Value)
		if err != nil || len(key) != 32 || r.SessionKey == "" || !validFlashID(id) {
			continue
		}
		kind, tokenID, sealed, err := s.db.TakeFlash(r.Context(), id, r.SessionKey, pagePath)
		if err != nil {
			if !errors.Is(err, errNotFound) {
				s.log.Error("reading a flash", "err", err)
			}
			continue
		}
		f := flash{Kind: kind}
		if f.TokenID, err = uuid.Parse(tokenID); err != nil {
			continue
		}
		if sealed != "" {
			b, err := base64.RawStdEncoding.DecodeString(sealed)
			if err != nil {
				continue
			}
			secret, err := unseal(key, b, flashAAD(id, pagePath, f))
			if err != nil {
				continue
			}
			f.Secret = string(secret)
		}
		out = append(out, f)
	}
	return out
}

// validFlashID reports whether id could be one setFlash made (so that
// nothing else reaches a query).
func validFlashID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// flashAAD binds a sealed secret to its flash.
func flashAAD(id, pagePath string, f flash) []byte {
	return []byte(id + "\x00" + pagePath + "\x00" + f.Kind + "\x00" + f.TokenID.String())
}

// newGCM is AES-GCM with key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(key, plain, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plain, aad), nil
}

func unseal(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed text too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

// AddFlash stores a flash (and forgets expired ones).
func (d *DB) AddFlash(ctx context.Context, id, session, page, kind, tokenID, sealed string) error {
	now := time.Now()
	if _, err := d.exec(ctx, `DELETE FROM forge_flashes WHERE expires_at <= ?`, now.Unix()); err != nil {
		return err
	}
	_, err := d.exec(ctx, `INSERT INTO forge_flashes (id, session, page, kind, token_id, sealed, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, session, page, kind, tokenID, sealed, now.Add(flashLifetime).Unix())
	return err
}

// TakeFlash deletes the flash and returns it, if it is the session's, for
// the page, and not expired; otherwise errNotFound.
func (d *DB) TakeFlash(ctx context.Context, id, session, page string) (kind, tokenID, sealed string, err error) {
	err = d.queryRow(ctx, `DELETE FROM forge_flashes WHERE id = ? AND session = ? AND page = ? AND expires_at > ?
		RETURNING kind, token_id, sealed`, id, session, page, time.Now().Unix()).Scan(&kind, &tokenID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", errNotFound
	}
	return kind, tokenID, sealed, err
}
