using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace LstmKernels.Tests;

/// <summary>
/// Lstm.Forward reads x and writes y in place through strided, time-reversed views of the cell's sequence core. These
/// tests pin that to the plain way (copy each direction's input into a contiguous forward-time buffer, run
/// <see cref="LstmCell.ForwardSequence"/>, copy its outputs into place) for every layout: bitwise for forward
/// directions, batch-first included (the view gathers the rows in the same order). A reverse direction projects its
/// chunk of inputs in time order and steps through it backwards, so its rows meet the projection's four-row tile in
/// another grouping than a reversed copy would: the same sums to the cell's bound, not always the same bits.
/// </summary>
public sealed class LayerLayoutTests
{
    public static Arbitrary<LayoutCase> Cases() =>
        (from input in Gen.Elements(1, 3, 16, 17)
         from hidden in Gen.Elements(1, 5, 16, 33)
         from batch in Gen.Elements(1, 2, 4, 5)
         from steps in Gen.Elements(1, 2, 9, 17)
         from direction in Gen.Elements(LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional)
         from batchFirst in Gen.Elements(false, true)
         from lengths in Gen.Elements(false, true)
         from seed in Gen.Choose(1, 100000)
         select new LayoutCase(input, hidden, batch, steps, direction, batchFirst, lengths, seed)).ToArbitrary();

    [Property(Arbitrary = [typeof(LayerLayoutTests)], MaxTest = 60)]
    public void Lstm_Layouts_AreTheCellsSequencesPutInPlace(LayoutCase t)
    {
        int d = t.Direction == LstmDirection.Bidirectional ? 2 : 1;
        var cells = new LstmParameters[d];
        for (int k = 0; k < d; k++)
        {
            cells[k] = LstmParameters.CreateRandom(t.Input, t.Hidden, t.Seed + k);
        }

        var lstm = Lstm.Create(cells, new LstmOptions { Direction = t.Direction, BatchFirst = t.BatchFirst });
        int[] lengths = new int[t.Batch];
        for (int b = 0; b < t.Batch; b++)
        {
            lengths[b] = t.Lengths ? (t.Seed + (7 * b)) % (t.Steps + 1) : t.Steps;
        }

        float[] x = Generators.Fill(t.Steps * t.Batch * t.Input, Dist.Unit, t.Seed);
        float[] h0 = Generators.Fill(d * t.Batch * t.Hidden, Dist.Unit, t.Seed + 1);
        float[] c0 = Generators.Fill(d * t.Batch * t.Hidden, Dist.Unit, t.Seed + 2);
        float[] y = Generators.Fill(t.Steps * t.Batch * d * t.Hidden, Dist.Unit, t.Seed + 3);
        float[] hT = new float[d * t.Batch * t.Hidden], cT = new float[hT.Length];
        lstm.Forward(t.Batch, x, h0, c0, y, hT, cT, t.Lengths ? lengths : default);

        float[] yPlain = new float[y.Length], hPlain = new float[hT.Length], cPlain = new float[cT.Length];
        for (int k = 0; k < d; k++)
        {
            bool reverse = k == 1 || t.Direction == LstmDirection.Reverse;
            Plain(new LstmCell(cells[k]), t, lengths, reverse, k, d, x, h0, c0, yPlain, hPlain, cPlain);
        }

        int n = t.Hidden;
        for (int k = 0; k < d; k++)
        {
            bool reverse = k == 1 || t.Direction == LstmDirection.Reverse;
            string what = $"direction {k} of {t}";
            for (int row = 0; row < t.Steps * t.Batch; row++)
            {
                Compare(yPlain.AsSpan((row * d * n) + (k * n), n), y.AsSpan((row * d * n) + (k * n), n), reverse, t.Steps, "y, " + what);
            }

            Compare(hPlain.AsSpan(k * t.Batch * n, t.Batch * n), hT.AsSpan(k * t.Batch * n, t.Batch * n), reverse, t.Steps, "hT, " + what);
            Compare(cPlain.AsSpan(k * t.Batch * n, t.Batch * n), cT.AsSpan(k * t.Batch * n, t.Batch * n), reverse, t.Steps, "cT, " + what);
        }
    }

    private static void Compare(ReadOnlySpan<float> expected, ReadOnlySpan<float> got, bool reverse, int steps, string what)
    {
        if (!reverse)
        {
            Check.BitwiseEqual(expected, got, what);
            return;
        }

        for (int j = 0; j < expected.Length; j++)
        {
            Check.Near(expected[j], got[j], Tolerances.Layer(steps, 1, expected[j]), what, j);
        }
    }

    /// <summary>Direction <paramref name="k"/> the plain way: copies in, one cell sequence per group of equal-length rows, copies out.</summary>
    private static void Plain(
        LstmCell cell, LayoutCase t, int[] lengths, bool reverse, int k, int d, float[] x, float[] h0, float[] c0, float[] y, float[] hT, float[] cT)
    {
        int n = t.Hidden, i = t.Input, bsz = t.Batch, steps = t.Steps;
        int states = bsz * n;
        float Xat(int time, int b, int f) => x[((t.BatchFirst ? (b * steps) + time : (time * bsz) + b) * i) + f];
        int Yat(int time, int b) => ((t.BatchFirst ? (b * steps) + time : (time * bsz) + b) * d * n) + (k * n);

        // With every row at full length the batch runs as one sequence; otherwise each row runs alone, as Lstm does.
        bool together = !t.Lengths;
        int groups = together ? 1 : bsz;
        for (int g = 0; g < groups; g++)
        {
            int rows = together ? bsz : 1;
            int first = together ? 0 : g;
            int length = lengths[first];
            float[] xs = new float[length * rows * i];
            for (int s = 0; s < length; s++)
            {
                int time = reverse ? length - 1 - s : s;
                for (int r = 0; r < rows; r++)
                {
                    for (int f = 0; f < i; f++)
                    {
                        xs[(((s * rows) + r) * i) + f] = Xat(time, first + r, f);
                    }
                }
            }

            float[] ys = new float[length * rows * n];
            Span<float> h = hT.AsSpan((k * states) + (first * n), rows * n), c = cT.AsSpan((k * states) + (first * n), rows * n);
            cell.ForwardSequence(xs, h0.AsSpan((k * states) + (first * n), rows * n), c0.AsSpan((k * states) + (first * n), rows * n), ys, h, c);
            for (int s = 0; s < length; s++)
            {
                int time = reverse ? length - 1 - s : s;
                for (int r = 0; r < rows; r++)
                {
                    ys.AsSpan(((s * rows) + r) * n, n).CopyTo(y.AsSpan(Yat(time, first + r), n));
                }
            }

            // Past its length a row's outputs are zero (the array starts at zero).
        }
    }
}

/// <summary>One layout case: shapes, direction, layout, whether rows have their own lengths, and the data seed.</summary>
public sealed record LayoutCase(int Input, int Hidden, int Batch, int Steps, LstmDirection Direction, bool BatchFirst, bool Lengths, int Seed);
