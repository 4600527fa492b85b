package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/feedloop/feedloop/proto/gen/go/feedloop/intake/v1"
)

// readAll returns every record of src.
func readAll(t *testing.T, src recordReader) []record {
	t.Helper()
	var out []record
	for {
		r, err := src.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

func TestJSONLReader(t *testing.T) {
	in := "\uFEFF" + `{"customerId": "c-1", "channel": "CHANNEL_APP", "nps": 3}` + "\n" +
		"\n" +
		`{"customer_id": "c-2", "channel": "CHANNEL_WEB", "comment": {"text": "fine"}, "eventId": "e-2"}` + "\r\n" +
		`{"customerId": "c-3", "colour": "red"}` + "\n" +
		`not json` + "\n" +
		`{"customerId": "c-4", "channel": "CHANNEL_EMAIL", "csat": 4}` // no final newline
	recs := readAll(t, newJSONLReader(strings.NewReader(in)))
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5 (the blank line skipped)", len(recs))
	}
	wantLines := []int{1, 3, 4, 5, 6}
	for i, r := range recs {
		if r.line != wantLines[i] {
			t.Errorf("record %d on line %d, want %d", i, r.line, wantLines[i])
		}
	}
	if want := (&intakev1.Feedback{CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_APP, Nps: proto.Int32(3)}); !proto.Equal(recs[0].feedback, want) {
		t.Errorf("line 1 = %v", recs[0].feedback)
	}
	if recs[1].feedback.GetEventId() != "e-2" || recs[1].feedback.GetComment().GetText() != "fine" {
		t.Errorf("line 3 = %v (proto names and a CRLF ending)", recs[1].feedback)
	}
	if recs[2].err == nil || !strings.Contains(recs[2].err.Error(), `unknown field "colour"`) || strings.Contains(recs[2].err.Error(), "(line") {
		t.Errorf("line 4 error = %v, want the unknown field without its position", recs[2].err)
	}
	if recs[3].err == nil || strings.Contains(recs[3].err.Error(), "proto:") {
		t.Errorf("line 5 is not JSON: %v, want an error without protojson's prefix", recs[3].err)
	}
	if recs[4].err != nil || recs[4].feedback.GetCsat() != 4 {
		t.Errorf("last line without a newline = %v, %v", recs[4].feedback, recs[4].err)
	}
}

func TestCSVReader(t *testing.T) {
	in := "customer_id,Channel,nps,csat,ces,comment,language,complaint,complaint_text,touchpoint,occurred_at,event_id,order_id\n" +
		"c-1,app,3,,,\"late, again\",en,delivery,\"two days\nlate\",delivery,2025-06-01T10:00:00Z,e-1,o-1\n" +
		"\n" +
		"c-2,web,,5,2,,,,,checkout,,,\n" +
		"c-3,fax,,,,,,,,,,,\n" +
		"c-4,app,ten,,,,,,,,,,\n" +
		"c-5,app,9\n"
	src, err := newCSVReader(strings.NewReader(in), testClock)
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, src)
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
	want := &intakev1.Feedback{
		CustomerId: "c-1", Channel: intakev1.Channel_CHANNEL_APP, Nps: proto.Int32(3),
		Comment:    &intakev1.Comment{Text: "late, again", Language: "en"},
		Complaint:  &intakev1.Complaint{Category: intakev1.ComplaintCategory_COMPLAINT_CATEGORY_DELIVERY, Description: "two days\nlate"},
		Touchpoint: "delivery", OccurredAt: timestamppb.New(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)),
		EventId: "e-1", Order: &intakev1.Order{OrderId: "o-1"},
	}
	if recs[0].line != 2 || !proto.Equal(recs[0].feedback, want) {
		t.Errorf("row 1 (line %d) = %v\nwant %v", recs[0].line, recs[0].feedback, want)
	}
	if want := (&intakev1.Feedback{CustomerId: "c-2", Channel: intakev1.Channel_CHANNEL_WEB, Csat: proto.Int32(5), Ces: proto.Int32(2), Touchpoint: "checkout"}); recs[1].line != 5 || !proto.Equal(recs[1].feedback, want) {
		t.Errorf("row 2 (line %d) = %v, want line 5 (after a quoted newline and a blank line) and %v", recs[1].line, recs[1].feedback, want)
	}
	for i, wantErr := range map[int]string{2: "channel:", 3: `nps: "ten" is not a whole number`, 4: "3 cells, want 13"} {
		if recs[i].err == nil || !strings.Contains(recs[i].err.Error(), wantErr) || recs[i].feedback != nil {
			t.Errorf("record %d: %v, want an error with %q", i, recs[i].err, wantErr)
		}
	}

	for name, header := range map[string]string{
		"unknown column": "customer_id,score\n",
		"repeated":       "nps,NPS\n",
		"empty file":     "",
	} {
		if _, err := newCSVReader(strings.NewReader(header), testClock); err == nil {
			t.Errorf("%s: header accepted", name)
		}
	}
}

func TestDerivedEventID(t *testing.T) {
	id := derivedEventID("survey.jsonl", 7, []byte(`{"customerId":"c-1"}`))
	if id != derivedEventID("survey.jsonl", 7, []byte(`{"customerId":"c-1"}`)) {
		t.Error("not deterministic")
	}
	for _, other := range []string{
		derivedEventID("survey.jsonl", 8, []byte(`{"customerId":"c-1"}`)),
		derivedEventID("other.jsonl", 7, []byte(`{"customerId":"c-1"}`)),
		derivedEventID("survey.jsonl", 7, []byte(`{"customerId":"c-2"}`)),
	} {
		if other == id {
			t.Errorf("%s repeats for another line, file or content", id)
		}
	}
	if len(id) > 128 || !strings.HasPrefix(id, "import-") {
		t.Errorf("id %q: want import-<hex>, at most 128 characters", id)
	}
}

// fakeIntake answers SubmitFeedbackBatch as intake does: a violation for
// an NPS above 10, duplicate for an event id seen before, UNAVAILABLE for
// the items or calls the test asks to fail.
type fakeIntake struct {
	seen        map[string]bool
	calls       [][]string // event ids per call
	failCalls   int        // the next calls that fail whole
	failItems   map[string]int
	rejectCalls bool // fail with a non-retryable error
}

func (f *fakeIntake) send(_ context.Context, items []*intakev1.Feedback) (*intakev1.SubmitFeedbackBatchResponse, error) {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.GetEventId())
	}
	f.calls = append(f.calls, ids)
	if f.rejectCalls {
		return nil, status.Error(codes.Unauthenticated, "invalid API key")
	}
	if f.failCalls > 0 {
		f.failCalls--
		return nil, status.Error(codes.Unavailable, "down")
	}
	resp := &intakev1.SubmitFeedbackBatchResponse{}
	for i, it := range items {
		res := &intakev1.SubmitFeedbackResult{Index: int32(i), EventId: it.GetEventId()}
		switch {
		case it.GetNps() > 10:
			br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field: "items[" + string(rune('0'+i%10)) + "].nps", Description: "value must be greater than or equal to 0 and less than or equal to 10"}}}
			st, _ := status.New(codes.InvalidArgument, "invalid").WithDetails(br)
			res.Error = st.Proto()
		case f.failItems[it.GetEventId()] > 0:
			f.failItems[it.GetEventId()]--
			res.Error = status.New(codes.Unavailable, "not stored").Proto()
		case f.seen[it.GetEventId()]:
			res.Duplicate = true
		default:
			f.seen[it.GetEventId()] = true
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

// lines makes a JSON Lines file: "ok" a valid event, "bad" one with NPS
// 11, "junk" a line that is not JSON.
func lines(kinds ...string) string {
	var b strings.Builder
	for i, k := range kinds {
		switch k {
		case "ok":
			b.WriteString(`{"customerId": "c-` + string(rune('a'+i)) + `", "channel": "CHANNEL_APP", "nps": 9}` + "\n")
		case "bad":
			b.WriteString(`{"customerId": "c-x", "channel": "CHANNEL_APP", "nps": 11}` + "\n")
		case "junk":
			b.WriteString("junk\n")
		}
	}
	return b.String()
}

func newTestImporter(t *testing.T, f *fakeIntake, batch int) (*importer, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "in.jsonl.feedctl-progress")
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	return &importer{
		send: f.send, name: "in.jsonl", batch: batch,
		state: &progressFile{path: state, file: "in.jsonl"}, now: testClock.now,
		progress: newProgress(io.Discard, "in.jsonl", 0, &countingReader{}, 0),
		retries:  2, backoff: time.Millisecond,
	}, state
}

func TestImporterBatchesAndTallies(t *testing.T) {
	f := &fakeIntake{}
	im, _ := newTestImporter(t, f, 2)
	in := lines("ok", "bad", "junk", "ok", "ok", "bad", "ok")
	sum, err := im.run(context.Background(), newJSONLReader(strings.NewReader(in)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 7 || sum.Accepted != 4 || sum.Duplicate != 0 || sum.Rejected != 3 || sum.LastLine != 7 {
		t.Errorf("summary %+v, want 7 read, 4 accepted, 3 rejected, last line 7", sum)
	}
	// Batches of two sendable events; the unreadable line is never sent.
	if got := []int{len(f.calls[0]), len(f.calls[1]), len(f.calls[2])}; len(f.calls) != 3 || !slices.Equal(got, []int{2, 2, 2}) {
		t.Errorf("calls %v, want three of two events", f.calls)
	}
	nps := "nps: value must be greater than or equal to 0 and less than or equal to 10"
	if len(sum.Reasons) != 2 || sum.Reasons[0].Reason != nps || sum.Reasons[0].Count != 2 || !slices.Equal(sum.Reasons[0].Lines, []int{2, 6}) ||
		!strings.HasPrefix(sum.Reasons[1].Reason, "not a Feedback in protojson") || !slices.Equal(sum.Reasons[1].Lines, []int{3}) {
		for _, r := range sum.Reasons {
			t.Logf("%+v", *r)
		}
		t.Errorf("reasons: want the NPS violation on lines 2 and 6 (batch index dropped), then the unreadable line 3")
	}

	// The same file again: the derived ids make every event a duplicate.
	im2, _ := newTestImporter(t, f, 500)
	again, err := im2.run(context.Background(), newJSONLReader(strings.NewReader(in)), 0)
	if err != nil || again.Accepted != 0 || again.Duplicate != 4 || again.Rejected != 3 {
		t.Errorf("second import %+v, %v: want 4 duplicates", again, err)
	}
}

func TestImporterResume(t *testing.T) {
	f := &fakeIntake{}
	im, state := newTestImporter(t, f, 2)
	in := lines("ok", "ok", "ok", "ok", "ok")
	if _, err := im.run(context.Background(), newJSONLReader(strings.NewReader(in)), 0); err != nil {
		t.Fatal(err)
	}
	last, err := im.state.load()
	if err != nil || last != 5 {
		t.Fatalf("recorded line %d, %v; want 5", last, err)
	}
	b, _ := os.ReadFile(state)
	if !strings.Contains(string(b), `"last_line":5`) {
		t.Errorf("progress file %s", b)
	}
	calls := len(f.calls)
	sum, err := im.run(context.Background(), newJSONLReader(strings.NewReader(in)), last)
	if err != nil || sum.Read != 0 || sum.Skipped != 5 || len(f.calls) != calls {
		t.Errorf("resume: %+v, %v, %d new calls; want everything skipped, nothing sent", sum, err, len(f.calls)-calls)
	}
	// Two lines appended: only they are sent.
	sum, err = im.run(context.Background(), newJSONLReader(strings.NewReader(in+lines("ok", "ok"))), last)
	if err != nil || sum.Read != 2 || sum.Accepted+sum.Duplicate != 2 || sum.LastLine != 7 {
		t.Errorf("resume after appending: %+v, %v", sum, err)
	}
}

func TestImporterRetriesAndStops(t *testing.T) {
	t.Run("a call that fails twice is retried", func(t *testing.T) {
		f := &fakeIntake{failCalls: 2}
		im, _ := newTestImporter(t, f, 500)
		sum, err := im.run(context.Background(), newJSONLReader(strings.NewReader(lines("ok", "ok"))), 0)
		if err != nil || sum.Accepted != 2 || len(f.calls) != 3 {
			t.Errorf("%+v, %v after %d calls; want 2 accepted on the third call", sum, err, len(f.calls))
		}
	})
	t.Run("an item that fails once is sent again alone", func(t *testing.T) {
		f := &fakeIntake{}
		im, _ := newTestImporter(t, f, 500)
		in := lines("ok", "ok", "ok")
		second := derivedEventID("in.jsonl", 2, []byte(strings.Split(in, "\n")[1]))
		f.failItems = map[string]int{second: 1}
		sum, err := im.run(context.Background(), newJSONLReader(strings.NewReader(in)), 0)
		if err != nil || sum.Accepted != 3 || len(f.calls) != 2 || !slices.Equal(f.calls[1], []string{second}) {
			t.Errorf("%+v, %v, calls %v; want the second item retried alone", sum, err, f.calls)
		}
	})
	t.Run("an item that keeps failing stops the import before it", func(t *testing.T) {
		f := &fakeIntake{}
		im, _ := newTestImporter(t, f, 500)
		in := lines("bad", "ok", "ok", "ok")
		third := derivedEventID("in.jsonl", 3, []byte(strings.Split(in, "\n")[2]))
		f.failItems = map[string]int{third: 99}
		sum, err := im.run(context.Background(), newJSONLReader(strings.NewReader(in)), 0)
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "1 events could not be stored") {
			t.Errorf("err = %v, want UNAVAILABLE", err)
		}
		if last, _ := im.state.load(); sum.LastLine != 2 || last != 2 || sum.Rejected != 1 {
			t.Errorf("%+v, recorded %d: want line 2 done (a resume sends line 3 on)", sum, last)
		}
	})
	t.Run("a call that cannot succeed stops at once", func(t *testing.T) {
		f := &fakeIntake{rejectCalls: true}
		im, _ := newTestImporter(t, f, 500)
		sum, err := im.run(context.Background(), newJSONLReader(strings.NewReader(lines("ok", "junk"))), 0)
		if status.Code(err) != codes.Unauthenticated || len(f.calls) != 1 || sum.LastLine != 0 || sum.Rejected != 0 {
			t.Errorf("%+v, %v after %d calls: want one call, nothing recorded", sum, err, len(f.calls))
		}
	})
	t.Run("a cancelled import stops between batches", func(t *testing.T) {
		f := &fakeIntake{}
		im, _ := newTestImporter(t, f, 1)
		ctx, cancel := context.WithCancel(context.Background())
		im.send = func(c context.Context, items []*intakev1.Feedback) (*intakev1.SubmitFeedbackBatchResponse, error) {
			cancel() // Ctrl-C during the first call
			return f.send(c, items)
		}
		sum, err := im.run(ctx, newJSONLReader(strings.NewReader(lines("ok", "ok", "ok"))), 0)
		if !errors.Is(err, context.Canceled) || sum.Accepted != 1 || sum.LastLine != 1 {
			t.Errorf("%+v, %v: want the first call finished and recorded, then a stop", sum, err)
		}
	})
}

func TestPrintSummary(t *testing.T) {
	sum := &importSummary{File: "in.jsonl", Read: 9, Accepted: 2, Duplicate: 1, Rejected: 6, Skipped: 4, Reasons: []*reasonTally{
		{Reason: "channel: value is required", Count: 1, Lines: []int{3}},
		{Reason: "nps: value must be ...", Count: 6, Lines: []int{1, 2, 4, 5, 6}},
	}}
	var b bytes.Buffer
	if err := (&app{output: "table"}).printSummary(&b, sum); err != nil {
		t.Fatal(err)
	}
	want := "in.jsonl: 9 read, 2 accepted, 1 duplicate, 6 rejected (4 skipped: done before)\n\n" +
		"REJECTED  REASON                      LINES\n" +
		"6         nps: value must be ...      1, 2, 4, 5, 6, …\n" +
		"1         channel: value is required  3\n"
	if b.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := (&app{output: "json"}).printSummary(&b, sum); err != nil || !strings.Contains(b.String(), `"accepted": 2`) || !strings.Contains(b.String(), `"lines": [`) {
		t.Errorf("json summary %s, %v", b.String(), err)
	}
}

func TestImportFormat(t *testing.T) {
	tests := []struct{ path, flag, want string }{
		{"a.jsonl", "", "jsonl"}, {"a.NDJSON", "", "jsonl"}, {"a.csv", "", "csv"}, {"a.txt", "csv", "csv"}, {"-", "jsonl", "jsonl"},
		{"a.txt", "", ""}, {"-", "", ""}, {"a.csv", "xml", ""},
	}
	for _, tt := range tests {
		got, err := importFormat(tt.path, tt.flag)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("importFormat(%q, %q) = %q, %v; want %q", tt.path, tt.flag, got, err, tt.want)
		}
	}
}
