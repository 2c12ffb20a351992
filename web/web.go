// Package web is Tiltas's pages: server-rendered HTML (html/template, no build step, no script),
// in the reader's language, readable on a phone, under a strict Content-Security-Policy. The
// pages read what they show through small interfaces the flows implement; cmd/tiltas mounts
// them on serve's listener.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed templates/*.html assets/*
var files embed.FS

var templates = template.Must(template.ParseFS(files, "templates/*.html"))

// Assets serves the pages' stylesheet, mounted at "GET /assets/".
func Assets() http.Handler {
	sub, err := fs.Sub(files, "assets")
	if err != nil {
		panic(err) // the embedded directory is there by construction
	}
	fsrv := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// secure sets the headers every page carries: nothing from elsewhere may load, nothing may frame
// it, and no address (the calendar link's token is in it) leaks as a Referer.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("Cache-Control", "no-store")
}

// render writes a page, or a bare 500 when the template fails (a bug).
func render(w http.ResponseWriter, name string, data any) { renderStatus(w, http.StatusOK, name, data) }

// renderStatus writes a page with status. The page is rendered first, so that a template that
// fails is a bare 500, not half a page.
func renderStatus(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	secure(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
