// Package connector composes the building blocks into runs.
package connector
