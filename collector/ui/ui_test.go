package ui

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const goodToken = "a-reader-token-of-the-tests"

// tokens accepts goodToken alone.
type tokens struct{}

func (tokens) ReaderToken(token, _ string) error {
	if token != goodToken {
		return errors.New("invalid bearer token")
	}
	return nil
}

// echoAPI answers with the Authorization header it was given, standing for
// the checked query API.
var echoAPI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
})

func serve(t *testing.T, r *http.Request) *http.Response {
	t.Helper()
	w := httptest.NewRecorder()
	Handler(echoAPI, tokens{}).ServeHTTP(w, r)
	return w.Result()
}

func loginRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/ui/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogin(t *testing.T) {
	t.Run("a reader token becomes an HttpOnly SameSite=Strict cookie for the UI's API", func(t *testing.T) {
		resp := serve(t, loginRequest(goodToken))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		cs := resp.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v", cs)
		}
		c := cs[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/api/" || c.Secure {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, path /ui/api/, not Secure over plain HTTP", c)
		}
		if strings.Contains(c.Value, goodToken) || strings.Contains(resp.Header.Get("Location"), goodToken) {
			t.Errorf("the token shows in clear in %q or the redirect", c.Value)
		}
		api := httptest.NewRequest(http.MethodGet, "/ui/api/v1/stuck", nil)
		api.AddCookie(c)
		if got := body(t, serve(t, api)); got != "GET /api/v1/stuck Bearer "+goodToken {
			t.Errorf("the API got %q", got)
		}
	})
	t.Run("the cookie is Secure over TLS", func(t *testing.T) {
		r := loginRequest(goodToken)
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		if cs := serve(t, r).Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("cookies %v", cs)
		}
	})
	t.Run("a wrong token sets no cookie and says so", func(t *testing.T) {
		resp := serve(t, loginRequest("not-the-token-at-all"))
		if len(resp.Cookies()) != 0 || resp.Header.Get("Location") != "/ui/#login-refused" {
			t.Errorf("cookies %v location %q", resp.Cookies(), resp.Header.Get("Location"))
		}
	})
	t.Run("a login posted from another site is refused", func(t *testing.T) {
		r := loginRequest(goodToken)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		resp := serve(t, r)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("status %d cookies %v", resp.StatusCode, resp.Cookies())
		}
	})
}

func TestAPI(t *testing.T) {
	t.Run("a bearer header sent to the UI's API is dropped: the cookie is its only credential", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/ui/api/v1/terminations", nil)
		r.Header.Set("Authorization", "Bearer "+goodToken)
		if got := body(t, serve(t, r)); got != "GET /api/v1/terminations " {
			t.Errorf("the API got %q", got)
		}
	})
	t.Run("the UI's API answers reads only", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodDelete, "/ui/api/v1/terminations", nil)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if resp := serve(t, r); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestPage(t *testing.T) {
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		t.Run(path+" is served with a strict Content-Security-Policy", func(t *testing.T) {
			resp := serve(t, httptest.NewRequest(http.MethodGet, path, nil))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
	t.Run("the page has no inline script and its script never writes markup", func(t *testing.T) {
		page := body(t, serve(t, httptest.NewRequest(http.MethodGet, "/ui/", nil)))
		if strings.Count(page, "<script") != 1 || !strings.Contains(page, `<script src="app.js" defer></script>`) {
			t.Errorf("the page's scripts are not app.js alone:\n%s", page)
		}
		js := body(t, serve(t, httptest.NewRequest(http.MethodGet, "/ui/app.js", nil)))
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(js, sink) {
				t.Errorf("app.js uses %s", sink)
			}
		}
	})
}
