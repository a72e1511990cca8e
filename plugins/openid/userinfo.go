package openid

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// maxProfileBytes bounds a userinfo answer read into memory.
const maxProfileBytes = 1 << 20

// userinfo asks the provider's userinfo endpoint about token, as Kinto
// does: a GET with "Authorization: Bearer <token>", whatever the answer's
// content type, read as a JSON object. A 4xx answer is the provider
// refusing the token (nil, nil), as is a body that is not a JSON object;
// other failures are errors (the provider is unreachable or failing).
func (p *provider) userinfo(ctx context.Context, endpoint, token string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxProfileBytes+1))
	if err != nil {
		return nil, err
	}
	switch {
	case res.StatusCode >= 400 && res.StatusCode < 500:
		p.log.Debug("openid: userinfo refused the token", "policy", p.name, "status", res.StatusCode)
		return nil, nil
	case res.StatusCode/100 != 2:
		return nil, fmt.Errorf("userinfo answered %s", res.Status)
	case len(body) > maxProfileBytes:
		return nil, fmt.Errorf("userinfo answered more than %d bytes", maxProfileBytes)
	}
	// Numbers stay as written (json.Number): a numeric user id keeps
	// every digit, and the profile is shown as the provider sent it.
	var profile map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&profile); err != nil || profile == nil {
		p.log.Debug("openid: userinfo's answer is not a JSON object", "policy", p.name)
		return nil, nil
	}
	return profile, nil
}

// profileID is the user id a profile field gives: a string as it is, a
// number as Python's str() writes it (Kinto formats the field so: a
// provider whose userid_field is a numeric id works); anything else, or
// an empty string, is no id.
func profileID(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		text := x.String()
		if !strings.ContainsAny(text, ".eE") {
			return text, true
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", false
		}
		// Python's repr of a float: fixed notation with at least one
		// decimal for exponents -4 to 15, else scientific.
		if exp := math.Floor(math.Log10(math.Abs(f))); f == 0 || exp >= -4 && exp < 16 {
			out := strconv.FormatFloat(f, 'f', -1, 64)
			if !strings.Contains(out, ".") {
				out += ".0"
			}
			return out, true
		}
		return strconv.FormatFloat(f, 'e', -1, 64), true
	}
	return "", false
}
