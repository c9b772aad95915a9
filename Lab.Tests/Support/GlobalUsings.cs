// The shared test support (timeouts, log recorder, registry, processes) is used by every test folder;
// the fake peers and waiting helpers Lab.Scenarios and Lab.Bench share too live in Lab.Testing.
global using Lab.Testing;
global using Lab.Tests.Support;
