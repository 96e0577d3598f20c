package dataset

import "testing"

func TestHardWorlds(t *testing.T) {
	for _, name := range WorldNames {
		w, err := HardWorld(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, r := range w.Ratings {
			per[r.User]++
			if r.Value < w.Scale.Min || r.Value > w.Scale.Max {
				t.Fatalf("%s: value %v outside %v", name, r.Value, w.Scale)
			}
		}
		if got := DetectScale(w.Ratings); got != w.Scale && name == WorldScale10 {
			t.Errorf("%s: detected %v, want %v", name, got, w.Scale)
		}
		if name == WorldSparse {
			heavy := 0
			for _, n := range per {
				if n > 20 {
					heavy++
				}
			}
			if share := float64(heavy) / float64(len(per)); share < 0.01 || share > 0.02 {
				t.Errorf("sparse: %.2f%% of %d users have more than 20 ratings, want 1-2%%", 100*share, len(per))
			}
		}
	}
	if _, err := HardWorld("flat", 1); err == nil {
		t.Error("unknown world accepted")
	}
}

func TestScaleMapping(t *testing.T) {
	for _, tc := range []struct {
		s        Scale
		in, want float64
	}{
		{Scale{1, 5}, 3, 3}, {Scale{0.5, 5}, 0.5, 0.5},
		{Scale{1, 10}, 1, 0.5}, {Scale{1, 10}, 10, 5}, {Scale{1, 10}, 8, 4},
		{Scale{0.5, 4}, 4, 5}, {Scale{0.5, 4}, 0.5, 0.5},
	} {
		if got := tc.s.ToInternal(tc.in); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%v: %v -> %v, want %v", tc.s, tc.in, got, tc.want)
		}
	}
}

func TestSubsamples(t *testing.T) {
	w, _ := HardWorld(WorldTaste, 2)
	sub := SubsampleUsers(w.Ratings, 0.2, 1)
	users, all := map[string]bool{}, map[string]bool{}
	for _, r := range sub {
		users[r.User] = true
	}
	for _, r := range w.Ratings {
		all[r.User] = true
	}
	if f := float64(len(users)) / float64(len(all)); f < 0.15 || f > 0.25 {
		t.Errorf("kept %.2f of the users", f)
	}
	capped := CapPerUser(w.Ratings, 10, 1)
	per := map[string]int{}
	for _, r := range capped {
		per[r.User]++
	}
	for u, n := range per {
		if n > 10 {
			t.Fatalf("user %s kept %d ratings", u, n)
		}
	}
}
