// Package stagingtest is the conformance suite every [staging.Store]
// must pass. A store's tests call [Run] with a constructor of fresh,
// empty stores.
package stagingtest
