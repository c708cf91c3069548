package e2e

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
)

// TestCancelMidRun cancels a run while its worker waits for a slow page.
// The record ends failed with kind cancelled; the worker notices at its
// next heartbeat and writes nothing more: no page after the cancel, no
// manifest, and the cancelled record stays as Cancel wrote it.
func TestCancelMidRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultSlow, Delay: 2500 * time.Millisecond})
	var pages, finished atomic.Int64
	c := e.connector(t, connector.Options{Lease: time.Second, Observer: connector.ObserverFuncs{
		OnPageWritten: func(connector.PageEvent) { pages.Add(1) },
		OnRunFinished: func(connector.RunEvent) { finished.Add(1) },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := c.Submit(ctx, dataType)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Start(wctx) }()
	defer func() { stop(); <-done }()

	for pages.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("no page written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	cancelled, err := e.reader().Get(ctx, dataType, id)
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != runstate.Failed || cancelled.Error == nil || cancelled.Error.Kind != string(connector.KindCancelled) {
		t.Fatalf("after Cancel: %+v", cancelled)
	}
	for finished.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the worker did not stop")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(2700 * time.Millisecond) // past the slow page

	final, err := e.reader().Get(ctx, dataType, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(final, cancelled) {
		t.Errorf("the record changed after Cancel:\n%+v\n%+v", cancelled, final)
	}
	var pageObjs []string
	for _, k := range e.objects(t, id) {
		if strings.HasPrefix(k, "pages/") {
			pageObjs = append(pageObjs, k)
		}
		if k == "manifest.json" {
			t.Error("a cancelled run has a manifest")
		}
	}
	if len(pageObjs) != 1 {
		t.Errorf("pages %v, want only the one written before the cancel", pageObjs)
	}
	for _, err := range e.reader().Records(ctx, final) {
		if !errors.Is(err, runstate.ErrNotDone) {
			t.Errorf("reading a cancelled run: %v", err)
		}
		break
	}
	if err := c.Cancel(ctx, id); !errors.Is(err, connector.ErrFinished) {
		t.Errorf("cancelling again: %v, want ErrFinished", err)
	}
}
