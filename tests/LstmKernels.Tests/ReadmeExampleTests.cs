using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>Keeps the README's example compiling, running and word for word the same as this file.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void Example_RunsAndMatchesTheReference()
    {
        // example:start
        // Weights as PyTorch's nn.LSTMCell(input_size: 3, hidden_size: 5) would initialise them.
        // LstmParameters.FromPyTorch(...) imports trained ones (weight_ih, weight_hh, bias_ih, bias_hh).
        var parameters = LstmParameters.CreateRandom(inputSize: 3, hiddenSize: 5, seed: 42);
        var cell = new LstmCell(parameters);          // packs the weights once; share it across threads

        float[] x = [0.5f, -1f, 2f];                  // one row: batch = x.Length / InputSize
        float[] h = new float[5];                     // state, zero at the start
        float[] c = new float[5];
        for (int t = 0; t < 10; t++)
        {
            cell.Forward(x, h, c, h, c);              // in place, zero allocation
        }

        // Verify against the seed's forward pass, in double.
        var reference = new ReferenceLstmCell(parameters);
        float[] hRef = new float[5], cRef = new float[5];
        for (int t = 0; t < 10; t++)
        {
            reference.Forward(x, hRef, cRef, hRef, cRef);
        }
        // example:end

        for (int j = 0; j < 5; j++)
        {
            Assert.InRange(Math.Abs(h[j] - hRef[j]), 0, 1e-5);
            Assert.InRange(Math.Abs(c[j] - cRef[j]), 0, 1e-5);
        }

        Assert.Contains(h, v => v != 0);
    }

    [Fact]
    public void Readme_ShowsThisFilesExample()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string source = File.ReadAllText(Path.Combine(root, "tests", "LstmKernels.Tests", "ReadmeExampleTests.cs"));

        string block = Between(readme, "<!-- example:start -->", "<!-- example:end -->");
        string[] readmeLines = Lines(Between(block, "```csharp", "```"))
            .Where(l => !l.StartsWith("using ", StringComparison.Ordinal))
            .ToArray();
        string[] testLines = Lines(Between(source, "// example:start", "        // example:end"));

        Assert.Equal(testLines, readmeLines);
    }

    private static string[] Lines(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    private static string Between(string text, string start, string end)
    {
        int s = text.IndexOf(start, StringComparison.Ordinal);
        Assert.True(s >= 0, $"marker '{start}' not found");
        s += start.Length;
        int e = text.IndexOf(end, s, StringComparison.Ordinal);
        Assert.True(e >= 0, $"marker '{end}' not found");
        return text[s..e];
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstmKernels.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LstmKernels.sln not found above " + AppContext.BaseDirectory);
    }
}
