using FsCheck.Xunit;
using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>LstmCell: construction, bad input, aliasing, zero allocation and concurrent steps.</summary>
public sealed partial class LstmCellTests
{
    [Fact]
    public void LstmCell_CopiesParametersAndReportsShape()
    {
        LstmParameters p = LstmParameters.CreateRandom(13, 21, 4);
        var cell = new LstmCell(p);
        Assert.Equal(13, cell.InputSize);
        Assert.Equal(21, cell.HiddenSize);
        long weightBytes = 4L * 4 * 21 * (13 + 21 + 1);
        Assert.InRange(cell.PackedBytes, weightBytes, 4L * 4 * (21 + 15) * (13 + 21 + 1));

        float[] x = Generators.Fill(13, Dist.Unit, 1), h = Generators.Fill(21, Dist.Unit, 2), c = Generators.Fill(21, Dist.Unit, 3);
        float[] h1 = new float[21], c1 = new float[21], h2 = new float[21], c2 = new float[21];
        cell.Forward(x, h, c, h1, c1);
        p.WeightIh.Fill(5f);
        p.WeightHh.Clear();
        p.Bias.Fill(-5f);
        cell.Forward(x, h, c, h2, c2);
        Check.BitwiseEqual(h1, h2, "h after the parameters changed");
        Check.BitwiseEqual(c1, c2, "c after the parameters changed");

        // A new cell sees the new weights.
        new LstmCell(p).Forward(x, h, c, h2, c2);
        Assert.NotEqual(h1, h2);
    }

    [Fact]
    public void LstmCell_ThrowsOnNullParameters()
    {
        Check.Throws<ArgumentNullException>("parameters", () => _ = new LstmCell(null!));
        Check.Throws<ArgumentNullException>("parameters", () => _ = new ReferenceLstmCell(null!));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmCell_ThrowsOnLengthMismatch(bool reference)
    {
        const int I = 3, H = 5, B = 2;
        Step step = Stepper(LstmParameters.CreateRandom(I, H, 1), reference);
        float[] x = new float[B * I], s = new float[B * H];
        float[] hn = new float[B * H], cn = new float[B * H];
        step(x, s, s, hn, cn);
        step(None, None, None, None, None);

        Check.Throws<ArgumentException>("x", () => step(new float[(B * I) + 1], s, s, hn, cn));
        Check.Throws<ArgumentException>("x", () => step(new float[2], s, s, hn, cn));
        Check.Throws<ArgumentException>("hPrev", () => step(x, new float[(B * H) - 1], s, hn, cn));
        Check.Throws<ArgumentException>("hPrev", () => step(x, None, s, hn, cn));
        Check.Throws<ArgumentException>("cPrev", () => step(x, s, new float[(B * H) + 1], hn, cn));
        Check.Throws<ArgumentException>("cPrev", () => step(x, s, None, hn, cn));
        Check.Throws<ArgumentException>("hNext", () => step(x, s, s, new float[H], cn));
        Check.Throws<ArgumentException>("hNext", () => step(x, s, s, None, cn));
        Check.Throws<ArgumentException>("cNext", () => step(x, s, s, hn, new float[3 * H]));
        Check.Throws<ArgumentException>("cNext", () => step(x, s, s, hn, None));

        // x sets the batch: an x for another batch size names the first state that disagrees with it.
        Check.Throws<ArgumentException>("hPrev", () => step(new float[3 * I], s, s, hn, cn));
        Check.Throws<ArgumentException>("hPrev", () => step(None, s, s, hn, cn));
    }

    [Fact]
    public void LstmCell_ThrowsOnOverlap()
    {
        const int I = 3, H = 5, B = 2, N = B * H;
        var cell = new LstmCell(LstmParameters.CreateRandom(I, H, 1));
        float[] buffer = Generators.Fill(100, Dist.Unit, 1);
        float[] before = (float[])buffer.Clone();
        float[] x = new float[B * I], h = new float[N], c = new float[N], hn = new float[N], cn = new float[N];
        Span<float> S(int start, int length) => buffer.AsSpan(start, length);
        void Throws(string name, Action call) => Check.Throws<ArgumentException>(name, call);

        // hNext: exactly hPrev is allowed; any other overlap is not.
        Throws("hNext", () => cell.Forward(x, S(0, N), c, S(1, N), cn));
        Throws("hNext", () => cell.Forward(S(0, B * I), h, c, S(B * I - 1, N), cn));
        Throws("hNext", () => cell.Forward(S(0, B * I), h, c, S(0, N), cn));
        Throws("hNext", () => cell.Forward(x, h, S(0, N), S(0, N), cn));
        Throws("hNext", () => cell.Forward(x, h, S(0, N), S(5, N), cn));
        Throws("hNext", () => cell.Forward(x, h, c, S(0, N), S(0, N)));
        Throws("hNext", () => cell.Forward(x, h, c, S(0, N), S(N - 1, N)));

        // cNext: exactly cPrev is allowed; any other overlap is not.
        Throws("cNext", () => cell.Forward(x, h, S(0, N), hn, S(2, N)));
        Throws("cNext", () => cell.Forward(S(0, B * I), h, c, hn, S(3, N)));
        Throws("cNext", () => cell.Forward(x, S(0, N), c, hn, S(0, N)));
        Throws("cNext", () => cell.Forward(x, S(0, N), c, hn, S(N - 1, N)));
        Check.BitwiseEqual(before, buffer, "buffer after rejected calls");

        // Allowed: exact in-place, inputs sharing memory, touching spans.
        cell.Forward(x, S(0, N), S(N, N), S(0, N), S(N, N));
        cell.Forward(S(0, B * I), S(0, N), S(0, N), S(N, N), S(2 * N, N));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(16, false)]
    [InlineData(16, true)]
    [InlineData(5, true)]
    public void LstmCell_DoesNotAllocate(int batch, bool inPlace)
    {
        const int I = 24, H = 40;
        var cell = new LstmCell(LstmParameters.CreateRandom(I, H, 2));
        float[] x = Generators.Fill(batch * I, Dist.Unit, 1);
        float[] h = new float[batch * H], c = new float[batch * H], hn = new float[batch * H], cn = new float[batch * H];
        long bytes = inPlace
            ? Allocation.Measure(() => cell.Forward(x, h, c, h, c), iterations: 2000)
            : Allocation.Measure(() => cell.Forward(x, h, c, hn, cn), iterations: 2000);
        Assert.Equal(0, bytes);
    }

    /// <summary>The measurement itself sees allocations (so a 0 above means something).</summary>
    [Fact]
    public void Allocation_MeasureSeesAllocations()
    {
        object? keep = null;
        long bytes = Allocation.Measure(() => keep = new float[4], warmUp: 10, iterations: 100);
        Assert.True(bytes >= 100 * 16, $"measured {bytes} bytes for 100 arrays");
        Assert.NotNull(keep);
    }

    /// <summary>
    /// One cell, several threads, each stepping its own sequences (different batch sizes, so each thread's scratch
    /// grows differently), started together: bitwise the same as each sequence run alone on this thread.
    /// </summary>
    [Fact]
    public void LstmCell_ConcurrentStepsMatchSequential()
    {
        const int I = 20, H = 37, Steps = 150, Threads = 6;
        var cell = new LstmCell(LstmParameters.CreateRandom(I, H, 11));
        int[] batches = [1, 3, 4, 9, 1, 16];
        float[][] expected = new float[Threads][];
        for (int t = 0; t < Threads; t++)
        {
            expected[t] = RunSequence(cell, batches[t], Steps, seed: 100 * t);
        }

        float[][] got = new float[Threads][];
        Exception?[] errors = new Exception?[Threads];
        using var start = new Barrier(Threads);
        var threads = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int id = t;
            threads[t] = new Thread(() =>
            {
                try
                {
                    start.SignalAndWait();
                    got[id] = RunSequence(cell, batches[id], Steps, seed: 100 * id);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    errors[id] = e;
                }
            });
            threads[t].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromMinutes(2)), "a stepping thread hung");
        }

        for (int t = 0; t < Threads; t++)
        {
            Assert.Null(errors[t]);
            Check.BitwiseEqual(expected[t], got[t], $"thread {t} (batch {batches[t]})");
        }
    }
}
