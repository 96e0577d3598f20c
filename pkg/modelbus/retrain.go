package modelbus

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// RetrainRequest asks the trainer for a full refit. It is the payload of
// swipeflix.trainer.retrain, as the drift service and operators send it.
type RetrainRequest struct {
	// Reason is free text for the trainer's log and the model's manifest.
	Reason string `json:"reason"`
	// Requester names who asks ("drift", "admin", ...).
	Requester string `json:"requester,omitempty"`
	// Token is the shared retrain token, when the trainer requires one.
	Token string    `json:"token,omitempty"`
	Time  time.Time `json:"time,omitzero"`
	// Share and Drifted describe the drift report behind a drift request.
	Share   float64  `json:"drift_share,omitempty"`
	Drifted []string `json:"drifted,omitempty"`
}

// ErrRetrainRefused is returned by RetrainRequest.Authorize for a request
// without the right token.
var ErrRetrainRefused = errors.New("retrain request refused")

// Authorize checks the request's token against token in constant time;
// an empty token accepts every request (a deployment that relies on NATS
// permissions alone).
func (r RetrainRequest) Authorize(token string) error {
	if token == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(r.Token), []byte(token)) != 1 {
		return fmt.Errorf("%w: missing or wrong token (requester %q)", ErrRetrainRefused, r.Requester)
	}
	return nil
}

// DecodeRetrainRequest parses a retrain request. A payload that is not a
// JSON object is taken as a bare reason (`nats pub swipeflix.trainer.retrain
// "why"`), with no requester and no token.
func DecodeRetrainRequest(data []byte) (RetrainRequest, error) {
	t := strings.TrimSpace(string(data))
	if !strings.HasPrefix(t, "{") {
		return RetrainRequest{Reason: t}, nil
	}
	var r RetrainRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return RetrainRequest{}, fmt.Errorf("decode retrain request: %w", err)
	}
	return r, nil
}

// Encode is the request's payload on swipeflix.trainer.retrain.
func (r RetrainRequest) Encode() ([]byte, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode retrain request: %w", err)
	}
	return data, nil
}

// RequestRetrain publishes r on swipeflix.trainer.retrain.
func (b *Bus) RequestRetrain(ctx context.Context, r RetrainRequest) error {
	data, err := r.Encode()
	if err != nil {
		return err
	}
	return b.publish(ctx, SubjectRetrain, data)
}

// SubscribeRetrain calls fn with each retrain request until ctx ends; a
// payload that does not decode reaches fn as an error.
func (b *Bus) SubscribeRetrain(ctx context.Context, fn func(RetrainRequest, error)) error {
	return b.subscribe(ctx, SubjectRetrain, func(msg *nats.Msg) { fn(DecodeRetrainRequest(msg.Data)) })
}
