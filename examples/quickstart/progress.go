package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/techwolf/sfconnector/connector"
)

// progress shows how the runs advance. On a terminal it redraws one line
// per data type; otherwise it prints a plain line when a run starts and
// when it ends, which reads well in a log file or CI output.
type progress struct {
	out      io.Writer
	terminal bool
	names    []string

	mu     sync.Mutex
	lines  map[string]*line
	drawn  int  // lines on screen from the last redraw
	closed bool // the summary owns the output now
}

type line struct {
	runID          string
	status         string
	pages, records int64
	started        time.Time
	elapsed        time.Duration
}

var _ connector.Observer = (*progress)(nil)

func newProgress(out io.Writer, terminal bool, names []string) *progress {
	p := &progress{out: out, terminal: terminal, names: names, lines: map[string]*line{}}
	for _, n := range names {
		p.lines[n] = &line{status: "waiting"}
	}
	return p
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) queued(name, runID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines[name].runID, p.lines[name].status = runID, "queued"
}

// RunStarted implements connector.Observer.
func (p *progress) RunStarted(e connector.RunEvent) {
	p.update(e.DataType, func(l *line) {
		l.status, l.started = "running", time.Now()
	}, fmt.Sprintf("%s: started run %s (attempt %d)", e.DataType, e.RunID, e.Attempt))
}

// PageWritten implements connector.Observer.
func (p *progress) PageWritten(e connector.PageEvent) {
	p.update(e.DataType, func(l *line) {
		l.pages, l.records = int64(e.Seq)+1, e.TotalRecords
	}, "")
}

// Retry implements connector.Observer.
func (p *progress) Retry(e connector.RetryEvent) {
	p.update(e.DataType, nil, fmt.Sprintf("%s: retry %d after status %d, waiting %s",
		e.DataType, e.Attempt, e.Status, e.Wait.Round(time.Millisecond)))
}

// RunFinished implements connector.Observer.
func (p *progress) RunFinished(e connector.RunEvent) {
	msg := fmt.Sprintf("%s: %s, %d pages, %d records in %.2fs",
		e.DataType, e.Status, e.Pages, e.Records, e.Elapsed.Seconds())
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	p.update(e.DataType, func(l *line) {
		l.status, l.pages, l.records, l.elapsed = string(e.Status), e.Pages, e.Records, e.Elapsed
	}, msg)
}

// close stops all output: a worker may still report a run that the
// summary already shows as final, and the two must not interleave.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
}

// update changes the line of a data type; off a terminal it prints msg.
func (p *progress) update(name string, fn func(*line), msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.lines[name]
	if !ok {
		return
	}
	if fn != nil {
		fn(l)
	}
	if !p.terminal && !p.closed && msg != "" {
		fmt.Fprintln(p.out, msg)
	}
}

// draw redraws the lines every interval on a terminal until the returned
// function is called, which draws them a last time.
func (p *progress) draw(interval time.Duration) (stop func()) {
	if !p.terminal {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			p.redraw()
			select {
			case <-done:
				p.redraw()
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (p *progress) redraw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn) // back to the first line
	}
	for _, name := range p.names {
		l := p.lines[name]
		elapsed := l.elapsed
		if l.status == "running" {
			elapsed = time.Since(l.started)
		}
		fmt.Fprintf(&b, "\x1b[2K%-22s %-8s %5d pages %9d records %6.1fs\n",
			name, l.status, l.pages, l.records, elapsed.Seconds())
	}
	p.drawn = len(p.names)
	io.WriteString(p.out, b.String())
}
