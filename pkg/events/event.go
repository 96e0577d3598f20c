// Package events defines the rating and swipe event that flows through the
// swipeflix.ratings topic, its JSON codec, its validation and the mapping from
// a swipe to a training signal.
package events

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Swipe is the kind of a swipe event.
type Swipe string

// The swipes a client may send.
const (
	Like      Swipe = "like"
	Superlike Swipe = "superlike"
	Dislike   Swipe = "dislike"
	Skip      Swipe = "skip"
)

// Swipes returns every swipe a client may send, in the order of the schema's
// enum.
func Swipes() []Swipe { return []Swipe{Like, Superlike, Dislike, Skip} }

// The rating scale: MinRating..MaxRating in steps of RatingStep.
const (
	MinRating  = 0.5
	MaxRating  = 5.0
	RatingStep = 0.5
)

// Limits on identifier lengths, so one event cannot carry megabytes of id.
const (
	MaxIDLen     = 128
	MaxSourceLen = 64
)

// Event is one rating or swipe by a user on a movie. Exactly one of Rating
// and Swipe is set.
type Event struct {
	// EventID is unique per event; consumers use it for idempotency.
	EventID string `json:"event_id"`
	UserID  string `json:"user_id"`
	MovieID string `json:"movie_id"`
	// Rating is 0.5..5 in half steps, or nil for a swipe.
	Rating *float64 `json:"rating,omitempty"`
	// Swipe is empty for a rating.
	Swipe Swipe `json:"swipe,omitempty"`
	// TS is the event time (RFC 3339). The latest event per user and movie
	// by TS wins, so replays and duplicates are harmless.
	TS     time.Time `json:"ts"`
	Source string    `json:"source,omitempty"`
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid event")

// FieldError names the field that made an event invalid and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem with e, as a *FieldError.
func (e *Event) Validate() error {
	if err := checkID("event_id", e.EventID); err != nil {
		return err
	}
	if err := checkID("user_id", e.UserID); err != nil {
		return err
	}
	if err := checkID("movie_id", e.MovieID); err != nil {
		return err
	}
	switch {
	case e.Rating == nil && e.Swipe == "":
		return invalid("rating", "one of rating or swipe is required")
	case e.Rating != nil && e.Swipe != "":
		return invalid("swipe", "an event has a rating or a swipe, not both")
	case e.Rating != nil:
		r := *e.Rating
		if math.IsNaN(r) || r < MinRating || r > MaxRating || r/RatingStep != math.Trunc(r/RatingStep) {
			return invalid("rating", "must be %v..%v in steps of %v, got %v", MinRating, MaxRating, RatingStep, r)
		}
	default:
		switch e.Swipe {
		case Like, Superlike, Dislike, Skip:
		default:
			return invalid("swipe", "must be one of like, superlike, dislike, skip; got %q", string(e.Swipe))
		}
	}
	if e.TS.IsZero() {
		return invalid("ts", "required (RFC 3339 event time)")
	}
	if err := checkEarliest(e.TS); err != nil {
		return err
	}
	if len(e.Source) > MaxSourceLen {
		return invalid("source", "longer than %d bytes", MaxSourceLen)
	}
	return nil
}

// MinTime is the earliest event time accepted: the Unix epoch. Together
// with the clock check (CheckClock) it keeps event times in a range where
// every representation the consumers use (Unix nanoseconds included) is
// exact.
var MinTime = time.Unix(0, 0).UTC()

// DefaultMaxSkew is how far ahead of the receiving clock an event time may
// be before it is refused: event time is the client's claim, and an event
// from the far future would otherwise pin its (user, movie) pair for good
// (the latest event by time wins).
const DefaultMaxSkew = 10 * time.Minute

func checkEarliest(ts time.Time) error {
	if ts.Before(MinTime) {
		return invalid("ts", "%s is before %s, the earliest event time", ts.UTC().Format(time.RFC3339Nano), MinTime.Format(time.RFC3339))
	}
	return nil
}

// CheckClock refuses an event whose time is more than maxSkew ahead of now,
// the receiving service's clock. Ingest answers 400 for it; consumers send it
// to the dead-letter topic. It is apart from Validate, which needs no clock.
func (e *Event) CheckClock(now time.Time, maxSkew time.Duration) error {
	if e.TS.After(now.Add(maxSkew)) {
		return invalid("ts", "%s is more than %s ahead of the receiving clock (%s)",
			e.TS.UTC().Format(time.RFC3339Nano), maxSkew, now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func checkID(field, v string) error {
	switch {
	case v == "":
		return invalid(field, "required")
	case len(v) > MaxIDLen:
		return invalid(field, "longer than %d bytes", MaxIDLen)
	case strings.TrimSpace(v) != v:
		return invalid(field, "has leading or trailing space")
	}
	return nil
}

// Kind is "rating" or the swipe's name.
func (e *Event) Kind() string {
	if e.Rating != nil {
		return "rating"
	}
	return string(e.Swipe)
}

// Weights turns events into the signal the model learns from. A rating r
// becomes r itself (rating scale); a swipe becomes the rating-scale value set
// here. Skip is neutral by default and can be made a weak negative. A dislike
// is explicit negative feedback, never a missing value.
type Weights struct {
	Like      float64 `json:"like"`
	Superlike float64 `json:"superlike"`
	Dislike   float64 `json:"dislike"`
	Skip      float64 `json:"skip"`
	// IgnoreSkip drops skips entirely (they update nothing).
	IgnoreSkip bool `json:"ignore_skip"`
}

// DefaultWeights is the documented swipe-to-rating mapping:
// superlike 5, like 4, skip ignored, dislike 1.
func DefaultWeights() Weights {
	return Weights{Like: 4, Superlike: 5, Dislike: 1, Skip: 2.5, IgnoreSkip: true}
}

// Signal maps e to a rating-scale value in 0.5..5. ok is false when the
// event carries no signal under w (a skip with IgnoreSkip).
func (w Weights) Signal(e *Event) (value float64, ok bool) {
	if e.Rating != nil {
		return *e.Rating, true
	}
	switch e.Swipe {
	case Like:
		return w.Like, true
	case Superlike:
		return w.Superlike, true
	case Dislike:
		return w.Dislike, true
	case Skip:
		return w.Skip, !w.IgnoreSkip
	}
	return 0, false
}

// DLQReason classifies why a consumer refused a message, for the
// dead-letter topic, its metric label and a log-once key: label is
// "invalid" when a field is wrong (kind "invalid:<field>"), "malformed"
// when the bytes are not an event at all. Every consumer uses it, so the
// labels agree.
func DLQReason(err error) (label, kind string) {
	var fe *FieldError
	if errors.As(err, &fe) {
		return "invalid", "invalid:" + fe.Field
	}
	return "malformed", "malformed"
}
