// xunit 2 has no implicit usings; every test file uses its attributes and Assert.
global using Xunit;
