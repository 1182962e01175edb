package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/web"
)

// errorBody is every error answer: what is wrong and, for a mistake in the
// input, which field.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// inputError is a request body that cannot be the input at all.
type inputError struct {
	status int
	field  string
	msg    string
}

func (e *inputError) Error() string { return e.msg }

// decode reads a JSON object into v. An empty body is an empty object;
// unknown fields, wrong types and trailing data are refused naming the
// field where there is one.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return &inputError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	case errors.As(err, &ute) && ute.Field != "":
		return &inputError{status: http.StatusBadRequest, field: ute.Field, msg: fmt.Sprintf("%s must be %s, not %s", ute.Field, article(ute.Type.Kind().String()), ute.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &inputError{status: http.StatusBadRequest, field: f, msg: f + " is not a field of this request"}
	}
	return &inputError{status: http.StatusBadRequest, msg: "the body is not a JSON object: " + err.Error()}
}

func article(kind string) string {
	switch kind {
	case "slice":
		return "a list"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value of another type"
	case "int", "int64":
		return "an integer"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

// writeError answers with the status for err.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *inputError
	if errors.As(err, &ie) {
		writeJSON(w, ie.status, errorBody{Error: ie.msg, Field: ie.field})
		return
	}
	status := http.StatusInternalServerError
	body := errorBody{Error: err.Error()}
	if f, ok := control.FieldOf(err); ok {
		status, body.Field = http.StatusBadRequest, f
	} else {
		switch {
		case errors.Is(err, errNoRoute), errors.Is(err, auth.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, auth.ErrConflict), errors.Is(err, auth.ErrLastAdmin), errors.Is(err, auth.ErrSecondFactorRequired):
			status = http.StatusConflict
		case errors.Is(err, auth.ErrInvalid):
			status = http.StatusBadRequest
		}
	}
	if status == http.StatusInternalServerError {
		web.Logger(r, a.log).Error("admin API", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error = "internal error"
	}
	writeJSON(w, status, body)
}
