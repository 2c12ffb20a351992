package slackfake

import (
	"encoding/json"
	"net/url"
	"unicode/utf8"
)

// Block Kit's limits, as Slack enforces them.
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxButtonText  = 75
	maxActionID    = 255
	maxBlockID     = 255
	maxValue       = 2000
	maxElements    = 25
	maxText        = 40000
)

type rawBlock struct {
	Type    string `json:"type"`
	BlockID string `json:"block_id"`
	Text    *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"text"`
	Elements []struct {
		Type     string `json:"type"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
		Text     *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
	} `json:"elements"`
}

// checkMessage validates a chat.postMessage or chat.update form the way Slack does and returns
// the parsed blocks, or the error code Slack would answer (and records the problem); s.mu is held.
func (s *Server) checkMessage(method string, form url.Values) ([]Block, string) {
	text, raw := form.Get("text"), form.Get("blocks")
	if utf8.RuneCountInString(text) > maxText {
		s.problem("%s: text of %d characters", method, utf8.RuneCountInString(text))
		return nil, "msg_too_long"
	}
	if raw == "" {
		if text == "" {
			s.problem("%s: neither text nor blocks", method)
			return nil, "no_text"
		}
		return nil, ""
	}
	if text == "" {
		s.problem("%s: blocks without the text fallback", method)
	}
	var rbs []rawBlock
	if err := json.Unmarshal([]byte(raw), &rbs); err != nil {
		s.problem("%s: blocks are not a JSON array of blocks: %v", method, err)
		return nil, "invalid_blocks_format"
	}
	bad := func(format string, args ...any) ([]Block, string) {
		s.problem(method+": "+format, args...)
		return nil, "invalid_blocks"
	}
	if len(rbs) == 0 || len(rbs) > maxBlocks {
		return bad("%d blocks (1 to %d allowed)", len(rbs), maxBlocks)
	}
	blockIDs, actionIDs := map[string]bool{}, map[string]bool{}
	var out []Block
	for i, rb := range rbs {
		if rb.BlockID != "" {
			if len(rb.BlockID) > maxBlockID || blockIDs[rb.BlockID] {
				return bad("block %d: block_id %q too long or repeated", i, rb.BlockID)
			}
			blockIDs[rb.BlockID] = true
		}
		switch rb.Type {
		case "section":
			if rb.Text == nil || (rb.Text.Type != "mrkdwn" && rb.Text.Type != "plain_text") {
				return bad("block %d: section without a text object", i)
			}
			if n := utf8.RuneCountInString(rb.Text.Text); n < 1 || n > maxSectionText {
				return bad("block %d: section text of %d characters (1 to %d allowed)", i, n, maxSectionText)
			}
			out = append(out, Block{Type: "section", Text: rb.Text.Text})
		case "actions":
			if len(rb.Elements) == 0 || len(rb.Elements) > maxElements {
				return bad("block %d: %d elements (1 to %d allowed)", i, len(rb.Elements), maxElements)
			}
			b := Block{Type: "actions"}
			for j, e := range rb.Elements {
				if e.Type != "button" {
					return bad("block %d element %d: type %q", i, j, e.Type)
				}
				if e.Text == nil || e.Text.Type != "plain_text" {
					return bad("block %d element %d: button text must be plain_text", i, j)
				}
				if n := utf8.RuneCountInString(e.Text.Text); n < 1 || n > maxButtonText {
					return bad("block %d element %d: button text of %d characters (1 to %d allowed)", i, j, n, maxButtonText)
				}
				if e.ActionID == "" || len(e.ActionID) > maxActionID || actionIDs[e.ActionID] {
					return bad("block %d element %d: action_id %q empty, too long or repeated", i, j, e.ActionID)
				}
				actionIDs[e.ActionID] = true
				if utf8.RuneCountInString(e.Value) > maxValue {
					return bad("block %d element %d: value of %d characters", i, j, utf8.RuneCountInString(e.Value))
				}
				b.Buttons = append(b.Buttons, Button{ActionID: e.ActionID, Value: e.Value, Label: e.Text.Text})
			}
			out = append(out, b)
		case "divider", "context", "header":
			out = append(out, Block{Type: rb.Type})
		default:
			return bad("block %d: type %q", i, rb.Type)
		}
	}
	return out, ""
}
