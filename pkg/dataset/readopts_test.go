package dataset

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadOptions(t *testing.T) {
	text := "1 10 3.5\n2 20 0\nbroken line here too long\n3 30 4\n4 40 8\n"
	tests := []struct {
		name    string
		opt     ReadOptions
		values  []float64
		skipped []int
		err     string
	}{
		{"strict stops at the first bad line", ReadOptions{}, nil, nil, "r:2: rating: 0 is out of range 0.5..5"},
		{"skip invalid", ReadOptions{SkipInvalid: true}, []float64{3.5, 4}, []int{2, 3, 5}, ""},
		{"any scale and skip", ReadOptions{SkipInvalid: true, AnyScale: true}, []float64{3.5, 4, 8}, []int{2, 3}, ""},
		{"any scale still refuses 0", ReadOptions{AnyScale: true}, nil, nil, "r:2: rating: 0 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []float64
			sk, err := ReadRatingsWith(strings.NewReader(text), "r", Auto, tt.opt, func(r Rating) error {
				got = append(got, r.Value)
				return nil
			})
			if tt.err != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.values) || !reflect.DeepEqual(sk.First, tt.skipped) || sk.Count != len(tt.skipped) {
				t.Errorf("values %v skipped %+v", got, sk)
			}
		})
	}
}
