package sfauth

import (
	"testing"
	"time"
)

func BenchmarkSignAssertion(b *testing.B) {
	key, _ := testKeys(b)
	cred := Credential{
		TokenURL: "https://api99.sapsf.example/oauth/token", CompanyID: testCompany,
		ClientID: testClient, UserID: testUser, Key: key, Certificate: validCert(b, key),
	}
	c, _, err := cred.check(time.Now(), false)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSigner(c)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.sign(time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExchange(b *testing.B) {
	key, _ := testKeys(b)
	cert := validCert(b, key)
	sf := newFakeSF(b, cert)
	ts, err := NewTokenSource(testCredential(b, sf, key, cert), testOptions(sf))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ts.exchange(b.Context(), false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenCached(b *testing.B) {
	key, _ := testKeys(b)
	cert := validCert(b, key)
	sf := newFakeSF(b, cert)
	ts, _ := NewTokenSource(testCredential(b, sf, key, cert), testOptions(sf))
	if _, err := ts.Token(); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.Token(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
