package bot

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// plain turns a flow's record into what a data-subject export shows a person: keys in one style
// (lower case with underscores: the JSON tag's name, else the field's), durations as text
// ("10m", "1h30m"), times in RFC 3339 and zero times left out, like absent values; an empty
// list is [] (nothing held), never null. Types that write their own JSON keep it.
func plain(v any) any {
	return plainValue(reflect.ValueOf(v))
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

func plainValue(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Type() {
	case durationType:
		return durationText(time.Duration(v.Int()))
	case timeType:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return nil
		}
		return t.Format(time.RFC3339)
	}
	if v.Type().Implements(marshalerType) && v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface {
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err == nil {
			return json.RawMessage(b)
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return plainValue(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			x := plainValue(v.Field(i))
			if f.Anonymous && f.Tag.Get("json") == "" {
				if m, ok := x.(map[string]any); ok {
					for k, mv := range m {
						out[k] = mv
					}
					continue
				}
			}
			if name == "" {
				name = snake(f.Name)
			}
			if x == nil || (strings.Contains(opts, "omitempty") && v.Field(i).IsZero()) {
				continue
			}
			out[name] = x
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Interface() // bytes, as JSON writes them
		}
		out := make([]any, 0, v.Len())
		for i := range v.Len() {
			out = append(out, plainValue(v.Index(i)))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			out[keyText(iter.Key())] = plainValue(iter.Value())
		}
		return out
	}
	return v.Interface()
}

func keyText(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	b, _ := json.Marshal(k.Interface())
	return strings.Trim(string(b), `"`)
}

// durationText writes d as a person reads it: "10m", "1h30m", "2h", "45s".
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// snake turns a Go field name into lower case with underscores: ReplyTo → reply_to, ID → id.
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
