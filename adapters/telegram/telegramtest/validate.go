package telegramtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// specError is a request that does not match the spec: Path names the
// parameter or the nested field, e.g. reply_markup.inline_keyboard[0][1].text.
type specError struct {
	Path string
	Msg  string
}

func (e *specError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func errAt(path, format string, args ...any) *specError {
	return &specError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// rawParam is one request parameter as it arrived: a form value (or a
// top-level JSON value re-encoded as the Bot API server does) or a file part.
type rawParam struct {
	value string
	file  *File
}

// attachRef finds attach://<name> references to file parts uploaded under another name.
var attachRef = regexp.MustCompile(`attach://([^"\\\s]+)`)

// validator checks values against the spec and converts them: Integer to
// int64, Float to float64, Boolean to bool, objects to map[string]any,
// arrays to []any and uploads to *File.
type validator struct {
	spec  *spec
	files map[string]*File
}

// request validates every parameter of a call to m.
func (v *validator) request(m *specObject, raw map[string]rawParam) (map[string]any, *specError) {
	referenced := map[string]bool{}
	for _, p := range raw {
		if p.file != nil {
			continue
		}
		for _, ref := range attachRef.FindAllStringSubmatch(p.value, -1) {
			referenced[ref[1]] = true
		}
	}
	for _, name := range sortedKeys(referenced) {
		if v.files[name] == nil {
			return nil, errAt("attach://"+name, "names no uploaded file part")
		}
	}
	for _, k := range sortedKeys(raw) {
		if m.field(k) != nil {
			continue
		}
		if raw[k].file != nil && referenced[k] {
			continue
		}
		return nil, errAt(k, "is not a parameter of %s", m.Name)
	}
	out := make(map[string]any, len(raw))
	for i := range m.Fields {
		f := &m.Fields[i]
		p, ok := raw[f.Name]
		if !ok {
			if f.Required {
				return nil, errAt(f.Name, "is required by %s", m.Name)
			}
			continue
		}
		val, err := v.top(p, f)
		if err != nil {
			return nil, err
		}
		out[f.Name] = val
	}
	return out, nil
}

// top validates a top-level parameter, which arrives as a string: scalars are
// parsed, objects and arrays are JSON-serialized, uploads are file parts.
func (v *validator) top(p rawParam, f *specField) (any, *specError) {
	if p.file != nil {
		if slices.Contains(f.Types, "InputFile") {
			return p.file, nil
		}
		return nil, errAt(f.Name, "must be of type %s, not a file upload", strings.Join(f.Types, " or "))
	}
	var decoded any
	if slices.ContainsFunc(f.Types, isJSONType) {
		x, err := decodeJSON(p.value)
		if err != nil {
			return nil, errAt(f.Name, "can't parse JSON: %v", err)
		}
		decoded = x
	}
	var best *specError
	bestRank := -1 << 30
	for _, t := range f.Types {
		var (
			val  any
			err  *specError
			rank = -1
		)
		if isJSONType(t) {
			val, err = v.value(decoded, t, f.Name)
			rank = v.rank(decoded, t)
		} else {
			val, err = v.scalar(p.value, t, f.Name)
		}
		if err == nil {
			return val, nil
		}
		if rank > bestRank {
			best, bestRank = err, rank
		}
	}
	if len(f.Types) > 1 && bestRank < minMatchRank {
		return nil, errAt(f.Name, "must be of type %s, got %q", strings.Join(f.Types, " or "), clip(p.value))
	}
	return nil, best
}

// isJSONType says whether a form value of type t is JSON-serialized.
func isJSONType(t string) bool { return !primitives[t] && t != "InputFile" }

// scalar parses a form value as a primitive type or an upload reference.
func (v *validator) scalar(s, t, path string) (any, *specError) {
	switch t {
	case "Integer":
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	case "Float":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
	case "Boolean":
		if b, ok := parseBool(s); ok {
			return b, nil
		}
	case "String":
		return s, nil
	case "InputFile":
		if name, ok := strings.CutPrefix(s, "attach://"); ok && v.files[name] != nil {
			return v.files[name], nil
		}
		return nil, errAt(path, "must be an uploaded file")
	}
	return nil, errAt(path, "must be of type %s, got %q", t, clip(s))
}

// value validates a decoded JSON value (numbers as json.Number) against a type expression.
func (v *validator) value(x any, t, path string) (any, *specError) {
	if elem, ok := strings.CutPrefix(t, "Array of "); ok {
		arr, ok := x.([]any)
		if !ok {
			return nil, errAt(path, "must be of type %s, got %s", t, kind(x))
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			val, err := v.value(e, elem, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	}
	switch t {
	case "Integer":
		if n, ok := x.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
		return nil, errAt(path, "must be of type Integer, got %s", kind(x))
	case "Float":
		if n, ok := x.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		}
		return nil, errAt(path, "must be of type Float, got %s", kind(x))
	case "String":
		if s, ok := x.(string); ok {
			return s, nil
		}
		return nil, errAt(path, "must be of type String, got %s", kind(x))
	case "Boolean":
		if b, ok := x.(bool); ok {
			return b, nil
		}
		return nil, errAt(path, "must be of type Boolean, got %s", kind(x))
	case "InputFile":
		if s, ok := x.(string); ok {
			if name, ok := strings.CutPrefix(s, "attach://"); ok && v.files[name] != nil {
				return v.files[name], nil
			}
		}
		return nil, errAt(path, "must be attach://<file part name>")
	}
	obj := v.spec.Types[t]
	if obj == nil {
		return nil, errAt(path, "has unknown spec type %s", t)
	}
	if len(obj.Subtypes) > 0 {
		return v.anyOf(x, obj.Subtypes, path)
	}
	return v.object(x, obj, path)
}

// anyOf accepts x if it matches one of types; on failure it reports the error
// of the type x most resembles (by discriminator and known keys).
func (v *validator) anyOf(x any, types []string, path string) (any, *specError) {
	if len(types) == 1 {
		return v.value(x, types[0], path)
	}
	order := make([]int, len(types))
	ranks := make([]int, len(types))
	for i, t := range types {
		order[i], ranks[i] = i, v.rank(x, t)
	}
	sort.SliceStable(order, func(a, b int) bool { return ranks[order[a]] > ranks[order[b]] })
	var first *specError
	for _, i := range order {
		val, err := v.value(x, types[i], path)
		if err == nil {
			return val, nil
		}
		if first == nil {
			first = err
		}
	}
	if ranks[order[0]] < minMatchRank {
		return nil, errAt(path, "must be of type %s, got %s", strings.Join(types, " or "), kind(x))
	}
	return nil, first
}

// minMatchRank is the rank of a value that shares at least a known field or
// its discriminator with a type; below it a union reports all its members
// rather than the errors of an arbitrary one.
const minMatchRank = 10

// rank says how much x looks like type t: negative for the wrong JSON kind.
func (v *validator) rank(x any, t string) int {
	if strings.HasPrefix(t, "Array of ") {
		if _, ok := x.([]any); ok {
			return 1
		}
		return -1
	}
	switch t {
	case "Integer", "Float":
		if _, ok := x.(json.Number); ok {
			return 1
		}
		return -1
	case "String", "InputFile":
		if _, ok := x.(string); ok {
			return 1
		}
		return -1
	case "Boolean":
		if _, ok := x.(bool); ok {
			return 1
		}
		return -1
	}
	obj := v.spec.Types[t]
	m, ok := x.(map[string]any)
	if obj == nil || !ok {
		return -1
	}
	if len(obj.Subtypes) > 0 {
		best := -1
		for _, st := range obj.Subtypes {
			best = max(best, v.rank(x, st))
		}
		return best
	}
	score := 1
	if obj.discField != "" {
		if m[obj.discField] == obj.discValue {
			score += 1000
		} else {
			score -= 1000
		}
	}
	for k := range m {
		if obj.field(k) != nil {
			score += 10
		} else {
			score--
		}
	}
	return score
}

func (v *validator) object(x any, obj *specObject, path string) (any, *specError) {
	m, ok := x.(map[string]any)
	if !ok {
		return nil, errAt(path, "must be an object of type %s, got %s", obj.Name, kind(x))
	}
	for _, k := range sortedKeys(m) {
		if obj.field(k) == nil {
			return nil, errAt(join(path, k), "is not a field of %s", obj.Name)
		}
	}
	if obj.discField != "" && m[obj.discField] != obj.discValue {
		return nil, errAt(join(path, obj.discField), "must be %q for %s", obj.discValue, obj.Name)
	}
	out := make(map[string]any, len(m))
	for i := range obj.Fields {
		f := &obj.Fields[i]
		val, ok := m[f.Name]
		if !ok || val == nil {
			if f.Required {
				return nil, errAt(join(path, f.Name), "is required in %s", obj.Name)
			}
			continue
		}
		nv, err := v.anyOf(val, f.Types, join(path, f.Name))
		if err != nil {
			return nil, err
		}
		out[f.Name] = nv
	}
	if check := objectChecks[obj.Name]; check != nil {
		if err := check(out, path); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return x, nil
}

// parseBool accepts what the Bot API server accepts for a Boolean form value.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func kind(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case bool:
		return "Boolean"
	case json.Number:
		return "number " + clip(x.String())
	case string:
		return fmt.Sprintf("String %q", clip(x))
	case []any:
		return "Array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", x)
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
