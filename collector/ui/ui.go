// Package ui serves the web UI under /ui/: static files built into the
// binary, a login form that keeps a reader token in a cookie, and the
// query API again under /ui/api/, where that cookie stands for the token.
//
// The browser draws what the API answers: verdicts, causes and advice come
// from the collector as they do for the CLI, and the UI computes none.
package ui

import (
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// cookieName holds the reader token, base64url-encoded so that any token
// of a token file is a valid cookie value.
const cookieName = "graceline_reader"

// contentSecurityPolicy lets the page run only its own script and style,
// and talk only to its own origin: a workload string that slipped past the
// escaping could still not run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// TokenChecker checks a reader's token.
type TokenChecker interface {
	// ReaderToken returns nil when token may read, else why not.
	ReaderToken(token, from string) error
}

// Handler returns the UI's routes. api is the query API as served under
// /api/, with its own check of the Authorization header; tokens checks the
// login form's token before it goes into the cookie.
//
//	GET  /ui/           the page and its files
//	POST /ui/login      form field token: sets the cookie, back to /ui/
//	POST /ui/logout     clears the cookie
//	GET  /ui/api/...    the query API, authorized by the cookie
func Handler(api http.Handler, tokens TokenChecker) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		// The embedded tree always has the directory.
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(files)))
	mux.HandleFunc("POST /ui/login", func(w http.ResponseWriter, r *http.Request) { login(w, r, tokens) })
	mux.HandleFunc("POST /ui/logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, cookie(r, "", -1))
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	mux.Handle("GET /ui/api/", http.StripPrefix("/ui", withCookieToken(api)))
	// Go's cross-origin protection refuses a POST that a browser marks as
	// coming from another site, so no other page can log a reader in or
	// out. Reads are GETs, and a SameSite=Strict cookie never rides along
	// with another site's request.
	protected := http.NewCrossOriginProtection().Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		protected.ServeHTTP(w, r)
	})
}

// login checks the form's token and keeps it in an HttpOnly cookie. The
// token comes in a POST body, never in a URL, so that no log or history
// keeps it.
func login(w http.ResponseWriter, r *http.Request, tokens TokenChecker) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token := strings.TrimSpace(r.PostFormValue("token"))
	if err := tokens.ReaderToken(token, r.RemoteAddr); err != nil {
		http.Redirect(w, r, "/ui/#login-refused", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, cookie(r, base64.RawURLEncoding.EncodeToString([]byte(token)), 0))
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// cookie returns the token cookie: a session cookie unless maxAge says
// otherwise, sent back only to the UI's own API on same-site requests, out
// of the page's script's reach, and only over TLS when it came over TLS.
func cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: cookieName, Value: value, Path: "/ui/api/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

// withCookieToken hands the cookie's token to api as a bearer token. An
// Authorization header the browser sent is dropped: under /ui/api/ the
// cookie is the only credential.
func withCookieToken(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.Header.Del("Authorization")
		if c, err := r.Cookie(cookieName); err == nil {
			if token, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
				r.Header.Set("Authorization", "Bearer "+string(token))
			}
		}
		api.ServeHTTP(w, r)
	})
}
