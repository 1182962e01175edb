package adminapi

import (
	"net/http"
	"strconv"

	"github.com/clinchsso/clinch/control"
)

// GET /api/admin/audit?user=&kind=&since=&until=&cursor=&limit=[&format=jsonl]
//
// The filters are those of `clinch audit list`: user is an email or a user
// id, since and until a duration before now (24h, 7d) or an RFC 3339 time.
// format=jsonl exports every matching event as JSON lines (newest first),
// without pages, as `clinch audit export` does.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q := control.AuditQuery{User: v.Get("user"), Kind: v.Get("kind"), Since: v.Get("since"), Until: v.Get("until"), Cursor: v.Get("cursor")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return &inputError{status: http.StatusBadRequest, field: "limit", msg: "limit must be a number from 1 up"}
		}
		q.Limit = n
	}
	switch v.Get("format") {
	case "", "json":
		p, err := a.env.AuditEvents(r.Context(), q)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, p)
		return nil
	case "jsonl":
		// Export checks the input before the first line, so a mistake is
		// still a 400 here; the headers wait for the first write.
		w.Header().Set("Content-Type", "application/jsonl")
		w.Header().Set("Content-Disposition", `attachment; filename="clinch-audit.jsonl"`)
		sw := &firstWrite{ResponseWriter: w}
		if err := a.env.ExportAudit(r.Context(), sw, q); err != nil {
			if !sw.wrote {
				w.Header().Del("Content-Disposition")
				return err
			}
			// Lines are out already: cut the stream so the client sees a
			// broken body, not a short export that looks whole.
			a.log.Error("admin API: audit export", "err", err)
			panic(http.ErrAbortHandler)
		}
		return nil
	default:
		return &inputError{status: http.StatusBadRequest, field: "format", msg: "format must be json or jsonl"}
	}
}

// firstWrite notes whether anything was written yet.
type firstWrite struct {
	http.ResponseWriter
	wrote bool
}

func (f *firstWrite) Write(b []byte) (int, error) {
	f.wrote = true
	return f.ResponseWriter.Write(b)
}
