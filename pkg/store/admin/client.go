package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/swipeflix/swipeflix/pkg/store"
)

// ErrPublish is returned when the registry changed but the server could not
// republish the current model (HTTP 502); the returned record is valid.
var ErrPublish = errors.New("registry changed, publishing failed")

// Client calls a Handler. Errors wrap store.ErrNotFound, ErrConflict or
// ErrInvalid for 404, 409 and 400, so callers test them with errors.Is.
type Client struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8002.
	BaseURL string
	// Token is sent as a bearer token on POSTs.
	Token string
	// HTTP is the transport; nil means http.DefaultClient.
	HTTP *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost && c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusBadGateway {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusBadGateway {
			if cr, ok := out.(*ChangeResponse); ok {
				return fmt.Errorf("%s %s: %w: %s", method, path, ErrPublish, cr.Error)
			}
		}
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	var eb errorBody
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		msg = eb.Error
	}
	var kind error
	switch resp.StatusCode {
	case http.StatusNotFound:
		kind = store.ErrNotFound
	case http.StatusConflict:
		kind = store.ErrConflict
	case http.StatusBadRequest:
		kind = store.ErrInvalid
	}
	if kind != nil {
		return fmt.Errorf("%s %s: %s: %w", method, path, msg, kind)
	}
	return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, msg)
}

// List lists models newest first, optionally of one stage.
func (c *Client) List(ctx context.Context, stage store.Stage, limit int) ([]store.ModelRecord, error) {
	q := url.Values{}
	if stage != "" {
		q.Set("stage", string(stage))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/models"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []store.ModelRecord
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Get returns one model.
func (c *Client) Get(ctx context.Context, version int64) (store.ModelRecord, error) {
	var out store.ModelRecord
	return out, c.do(ctx, http.MethodGet, "/v1/models/"+strconv.FormatInt(version, 10), nil, &out)
}

// Current returns the production model.
func (c *Client) Current(ctx context.Context) (store.ModelRecord, error) {
	var out store.ModelRecord
	return out, c.do(ctx, http.MethodGet, "/v1/models/current", nil, &out)
}

// History returns a model's stage changes.
func (c *Client) History(ctx context.Context, version int64) ([]store.StageChange, error) {
	var out []store.StageChange
	return out, c.do(ctx, http.MethodGet, "/v1/models/"+strconv.FormatInt(version, 10)+"/history", nil, &out)
}

// Promote makes version the production model.
func (c *Client) Promote(ctx context.Context, version int64, by, reason string) (store.ModelRecord, error) {
	var out ChangeResponse
	err := c.do(ctx, http.MethodPost, "/v1/models/"+strconv.FormatInt(version, 10)+"/promote", StageRequest{By: by, Reason: reason}, &out)
	return out.Model, err
}

// Rollback returns to the previous production model.
func (c *Client) Rollback(ctx context.Context, by, reason string) (store.ModelRecord, error) {
	var out ChangeResponse
	err := c.do(ctx, http.MethodPost, "/v1/models/rollback", StageRequest{By: by, Reason: reason}, &out)
	return out.Model, err
}
