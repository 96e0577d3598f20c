package events

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "event.schema.json"

func loadSchemaDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // "format": "date-time" is checked, not just noted
	if err := c.AddResource(schemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

// TestSchemaMatchesType keeps event.schema.json in step with the Event type:
// the same properties, the same required fields, the same swipe enum and
// the same bounds.
func TestSchemaMatchesType(t *testing.T) {
	doc := loadSchemaDoc(t)
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema is %v, want draft 2020-12", doc["$schema"])
	}
	props := doc["properties"].(map[string]any)

	var tags, required []string
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Fatalf("field %s has no json name", typ.Field(i).Name)
		}
		tags = append(tags, name)
		// rating and swipe are omitempty and required one-of; source is
		// optional; everything else is required.
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	var schemaProps []string
	for k := range props {
		schemaProps = append(schemaProps, k)
	}
	sort.Strings(tags)
	sort.Strings(schemaProps)
	if !slices.Equal(tags, schemaProps) {
		t.Errorf("json tags %v, schema properties %v", tags, schemaProps)
	}

	var schemaReq []string
	for _, r := range doc["required"].([]any) {
		schemaReq = append(schemaReq, r.(string))
	}
	sort.Strings(required)
	sort.Strings(schemaReq)
	if !slices.Equal(required, schemaReq) {
		t.Errorf("required: Go (fields without omitempty) %v, schema %v", required, schemaReq)
	}
	var oneOf []string
	for _, alt := range doc["oneOf"].([]any) {
		for _, r := range alt.(map[string]any)["required"].([]any) {
			oneOf = append(oneOf, r.(string))
		}
	}
	if !slices.Equal(oneOf, []string{"rating", "swipe"}) {
		t.Errorf("oneOf requires %v, want exactly one of rating and swipe", oneOf)
	}

	var enum []Swipe
	for _, v := range props["swipe"].(map[string]any)["enum"].([]any) {
		enum = append(enum, Swipe(v.(string)))
	}
	if !slices.Equal(enum, Swipes()) {
		t.Errorf("swipe enum %v, Go %v", enum, Swipes())
	}
	// Each swipe in the list is one Validate and Signal know.
	for _, s := range Swipes() {
		e := NewSwipe("e", "u", "m", s, time.Unix(1, 0), "")
		if err := e.Validate(); err != nil {
			t.Errorf("swipe %q: %v", s, err)
		}
		if _, ok := (Weights{}).Signal(&e); !ok && s != Skip {
			t.Errorf("swipe %q has no signal", s)
		}
	}

	rating := props["rating"].(map[string]any)
	if rating["minimum"] != MinRating || rating["maximum"] != MaxRating || rating["multipleOf"] != RatingStep {
		t.Errorf("rating bounds in schema %v..%v step %v, Go %v..%v step %v",
			rating["minimum"], rating["maximum"], rating["multipleOf"], MinRating, MaxRating, RatingStep)
	}
	for _, id := range []string{"event_id", "user_id", "movie_id"} {
		p := props[id].(map[string]any)
		if alts, ok := p["oneOf"].([]any); ok && id != "event_id" {
			// user and movie ids: a string, or an integer read as its digits.
			p = alts[0].(map[string]any)
			if n := alts[1].(map[string]any); n["type"] != "integer" || n["minimum"] != float64(0) {
				t.Errorf("%s: second alternative %v, want a non-negative integer", id, n)
			}
		}
		if p["maxLength"] != float64(MaxIDLen) || p["minLength"] != float64(1) || p["type"] != "string" {
			t.Errorf("%s: %v, want a string of 1..%d", id, p, MaxIDLen)
		}
	}
	if p := props["source"].(map[string]any); p["maxLength"] != float64(MaxSourceLen) {
		t.Errorf("source maxLength %v, want %d", p["maxLength"], MaxSourceLen)
	}
}

// TestSchemaAgreesWithDecode runs good and bad events through a real JSON
// Schema validator and through Decode: both accept or both refuse.
func TestSchemaAgreesWithDecode(t *testing.T) {
	sch := compileSchema(t)
	long := `"` + strings.Repeat("x", MaxIDLen+1) + `"`
	cases := []struct {
		name, json string
		valid      bool
	}{
		{"rating", event(nil), true},
		{"half star", event(map[string]string{"rating": `0.5`}), true},
		{"five", event(map[string]string{"rating": `5.0`}), true},
		{"like", event(map[string]string{"rating": "", "swipe": `"like"`}), true},
		{"superlike", event(map[string]string{"rating": "", "swipe": `"superlike"`}), true},
		{"dislike", event(map[string]string{"rating": "", "swipe": `"dislike"`}), true},
		{"skip", event(map[string]string{"rating": "", "swipe": `"skip"`}), true},
		{"with source", event(map[string]string{"source": `"app"`}), true},
		{"unknown field", event(map[string]string{"source": `"app","device":"tv"`}), true},
		{"ts with offset and fraction", event(map[string]string{"ts": `"2024-05-01T14:00:00.123+02:00"`}), true},
		{"id of max length", event(map[string]string{"user_id": `"` + strings.Repeat("u", MaxIDLen) + `"`}), true},
		{"id with inner space", event(map[string]string{"movie_id": `"Toy Story"`}), true},
		{"schema example 1", schemaExample(t, 0), true},
		{"schema example 2", schemaExample(t, 1), true},

		{"no event_id", event(map[string]string{"event_id": ""}), false},
		{"empty user_id", event(map[string]string{"user_id": `""`}), false},
		{"numeric movie_id", event(map[string]string{"movie_id": `242`}), true},
		{"fractional movie_id", event(map[string]string{"movie_id": `242.5`}), false},
		{"negative user_id", event(map[string]string{"user_id": `-1`}), false},
		{"ts before 1970", event(map[string]string{"ts": `"1969-12-31T23:59:59Z"`}), false},
		{"ts zero time", event(map[string]string{"ts": `"0001-01-01T00:00:00Z"`}), false},
		{"id too long", event(map[string]string{"event_id": long}), false},
		{"id with leading space", event(map[string]string{"user_id": `" u1"`}), false},
		{"id with trailing newline", event(map[string]string{"user_id": `"u1\n"`}), false},
		{"neither rating nor swipe", event(map[string]string{"rating": ""}), false},
		{"both rating and swipe", event(map[string]string{"swipe": `"like"`}), false},
		{"rating 0", event(map[string]string{"rating": `0`}), false},
		{"rating 5.5", event(map[string]string{"rating": `5.5`}), false},
		{"rating 3.3", event(map[string]string{"rating": `3.3`}), false},
		{"rating string", event(map[string]string{"rating": `"4"`}), false},
		{"rating null", event(map[string]string{"rating": `null`}), false},
		{"swipe unknown", event(map[string]string{"rating": "", "swipe": `"love"`}), false},
		{"swipe null", event(map[string]string{"rating": "", "swipe": `null`}), false},
		{"no ts", event(map[string]string{"ts": ""}), false},
		{"ts not a date-time", event(map[string]string{"ts": `"yesterday"`}), false},
		{"ts without zone", event(map[string]string{"ts": `"2024-05-01T12:00:00"`}), false},
		{"ts number", event(map[string]string{"ts": `1714564800`}), false},
		{"source too long", event(map[string]string{"source": `"` + strings.Repeat("s", MaxSourceLen+1) + `"`}), false},
		{"source number", event(map[string]string{"source": `7`}), false},
		{"array", `[` + event(nil) + `]`, false},
		{"string", `"event"`, false},
		{"null", `null`, false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.json)))
			if err != nil {
				t.Fatalf("test case is not JSON: %v", err)
			}
			schemaErr := sch.Validate(inst)
			_, decodeErr := Decode([]byte(tt.json))
			if (schemaErr == nil) != tt.valid {
				t.Errorf("schema: valid=%v, want %v (%v)", schemaErr == nil, tt.valid, schemaErr)
			}
			if (decodeErr == nil) != tt.valid {
				t.Errorf("Decode: valid=%v, want %v (%v)", decodeErr == nil, tt.valid, decodeErr)
			}
		})
	}
}

func schemaExample(t *testing.T, i int) string {
	t.Helper()
	ex := loadSchemaDoc(t)["examples"].([]any)
	b, err := json.Marshal(ex[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
