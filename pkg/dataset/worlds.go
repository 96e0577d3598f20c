package dataset

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
)

// World is a generated dataset built to be hard for a recommender in one
// particular way, for checks that a self-tuning model holds everywhere.
type World struct {
	Name    string
	Ratings []Rating
	Movies  []Movie
	// Scale is the rating scale of Ratings (1..10 for the "scale10" world,
	// else 0.5..5 or 1..5).
	Scale Scale
}

// The generated hard worlds, by name.
const (
	// WorldPopularity: exposure is blind to taste and very skewed, so what
	// a user rates next is explained by popularity almost entirely.
	WorldPopularity = "popularity"
	// WorldTaste: strong personal taste steers what each user rates, with
	// a flat popularity curve.
	WorldTaste = "taste"
	// WorldSparse: most users have 1 to 5 ratings; 1-2% have more than 20.
	WorldSparse = "sparse"
	// WorldScale10: ratings on a 1..10 scale.
	WorldScale10 = "scale10"
)

// WorldNames lists the hard worlds.
var WorldNames = []string{WorldPopularity, WorldTaste, WorldSparse, WorldScale10}

// HardWorld generates the named world from seed.
func HardWorld(name string, seed uint64) (World, error) {
	var cfg SynthConfig
	switch name {
	case WorldPopularity:
		cfg = SynthConfig{Users: 500, Movies: 400, Ratings: 20000, MinPerUser: 10, Affinity: -1, PopularitySkew: 1.3, HalfStars: true}
	case WorldTaste:
		cfg = SynthConfig{Users: 500, Movies: 400, Ratings: 20000, MinPerUser: 10, Affinity: 8, PopularitySkew: 0.3, Noise: 0.3, Factors: 6}
	case WorldSparse:
		cfg = SynthConfig{Users: 3000, Movies: 600, Ratings: 9000, MinPerUser: 1, ActivitySkew: 1.1, HalfStars: true}
	case WorldScale10:
		cfg = SynthConfig{Users: 400, Movies: 300, Ratings: 16000, MinPerUser: 10, HalfStars: true}
	default:
		return World{}, fmt.Errorf("hard world: unknown %q (want %v)", name, WorldNames)
	}
	cfg.Seed = seed
	s := Generate(cfg)
	w := World{Name: name, Ratings: s.Ratings(), Movies: s.Catalog, Scale: Scale{Min: 0.5, Max: 5}}
	if !cfg.HalfStars {
		w.Scale.Min = 1
	}
	if name == WorldScale10 {
		for i := range w.Ratings {
			w.Ratings[i].Value = math.Max(1, math.Round(2*w.Ratings[i].Value))
		}
		w.Scale = Scale{Min: 1, Max: 10}
	}
	return w, nil
}

func hashOf(seed uint64, s string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", seed, s)
	// FNV's high bits barely move between short ids: mix them (splitmix64).
	z := h.Sum64() + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// SubsampleUsers keeps every rating of a seeded frac of the users.
func SubsampleUsers(rs []Rating, frac float64, seed uint64) []Rating {
	var out []Rating
	limit := uint64(frac * float64(math.MaxUint64))
	for _, r := range rs {
		if hashOf(seed, r.User) < limit {
			out = append(out, r)
		}
	}
	return out
}

// CapPerUser keeps at most n ratings of each user, a seeded choice, in the
// input's order.
func CapPerUser(rs []Rating, n int, seed uint64) []Rating {
	byUser := map[string][]int{}
	for i, r := range rs {
		byUser[r.User] = append(byUser[r.User], i)
	}
	keep := make([]bool, len(rs))
	for u, idx := range byUser {
		if len(idx) > n {
			sort.Slice(idx, func(a, b int) bool {
				ha, hb := hashOf(seed, u+"\x00"+rs[idx[a]].Movie), hashOf(seed, u+"\x00"+rs[idx[b]].Movie)
				return ha < hb
			})
			idx = idx[:n]
		}
		for _, i := range idx {
			keep[i] = true
		}
	}
	var out []Rating
	for i, r := range rs {
		if keep[i] {
			out = append(out, r)
		}
	}
	return out
}
