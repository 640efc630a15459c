using System.Globalization;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>Numbers at the edges: NaN and ∞ stay where they belong, and the same input gives the same bits.</summary>
public sealed partial class NumericsEdgeTests
{
    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.Int8)]
    public void Cell_NaNInInputOrHiddenState_StaysInItsRow(WeightPrecision precision)
    {
        // Every unit of a row depends on every input and every h of that row (dense weights, and 0·NaN = NaN), and on
        // nothing in other rows: the row turns NaN, the other rows are bitwise what they are without the NaN.
        var cell = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, 751), precision);
        (float[] x, float[] h, float[] c) = State(752);
        (float[] cleanH, float[] cleanC) = Step(cell, x, h, c);
        for (int row = 0; row < Batch; row++)
        {
            float[] xn = (float[])x.Clone();
            xn[(row * Input) + 5] = float.NaN;
            AssertRowNaN(Step(cell, xn, h, c), (cleanH, cleanC), row, "NaN in x");

            float[] hn = (float[])h.Clone();
            hn[(row * Hidden) + 20] = float.NaN;
            AssertRowNaN(Step(cell, x, hn, c), (cleanH, cleanC), row, "NaN in hPrev");
        }
    }

    [Fact]
    public void Cell_NaNOrInfinityInCellState_StaysInItsUnit()
    {
        // c = f·cPrev + i·g, h = o·tanh(c): cPrev[j] reaches only unit j. NaN gives NaN in h[j] and c[j]; ±∞ gives
        // c[j] = ±∞ and h[j] = ±o (tanh(±∞) = ±1), as the reference. Every other value is bitwise unchanged.
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 761);
        var cell = new LstmCell(p);
        (float[] x, float[] h, float[] c) = State(762);
        (float[] cleanH, float[] cleanC) = Step(cell, x, h, c);
        foreach (float special in (float[])[float.NaN, float.PositiveInfinity, float.NegativeInfinity])
        {
            int at = (1 * Hidden) + 16;
            float[] cs = (float[])c.Clone();
            cs[at] = special;
            (float[] gotH, float[] gotC) = Step(cell, x, h, cs);
            float[] refH = new float[gotH.Length], refC = new float[gotC.Length];
            new ReferenceLstmCell(p).Forward(x, h, cs, refH, refC);
            for (int k = 0; k < gotH.Length; k++)
            {
                if (k != at)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(cleanH[k]), BitConverter.SingleToInt32Bits(gotH[k]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(cleanC[k]), BitConverter.SingleToInt32Bits(gotC[k]));
                }
            }

            Assert.Equal(refC[at], gotC[at]);
            if (float.IsNaN(special))
            {
                Assert.True(float.IsNaN(gotH[at]));
            }
            else
            {
                Check.Near(refH[at], gotH[at], Tolerances.CellH, $"h with cPrev = {special}", at);
            }
        }
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Cell_OneInfiniteInput_SaturatesTheRowAsTheReference(float infinity)
    {
        // One ±∞ input makes every pre-activation of its row ±∞ (each weight is non-zero): the gates saturate, the outputs
        // stay finite and equal the reference's; other rows are bitwise unchanged.
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 771);
        var cell = new LstmCell(p);
        (float[] x, float[] h, float[] c) = State(772);
        (float[] cleanH, float[] cleanC) = Step(cell, x, h, c);
        const int Row = 2;
        x[(Row * Input) + 3] = infinity;
        (float[] gotH, float[] gotC) = Step(cell, x, h, c);
        float[] refH = new float[gotH.Length], refC = new float[gotC.Length];
        new ReferenceLstmCell(p).Forward(x, h, c, refH, refC);
        for (int k = 0; k < gotH.Length; k++)
        {
            if (k / Hidden == Row)
            {
                Check.Near(refC[k], gotC[k], Tolerances.SaturatedStep(c[k]), "c with an infinite input", k);
                Check.Near(refH[k], gotH[k], Tolerances.SaturatedStep(c[k]), "h with an infinite input", k);
            }
            else
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(cleanH[k]), BitConverter.SingleToInt32Bits(gotH[k]));
                Assert.Equal(BitConverter.SingleToInt32Bits(cleanC[k]), BitConverter.SingleToInt32Bits(gotC[k]));
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lstm_NaNAtOneStepOfOneRow_PoisonsThatRowFromThatStepOnly(bool unfused)
    {
        const int I = 5, H = 19, B = 3, T = 6, NanStep = 2, NanRow = 1;
        LstmParameters[] cells = [LstmParameters.CreateRandom(I, H, 781), LstmParameters.CreateRandom(H, H, 782)];
        LstmOptions options = unfused ? new LstmOptions { Clip = 5f } : LstmOptions.Default;
        var lstm = Lstm.Create(cells, options);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 783);
        float[] clean = new float[T * B * H], poisoned = new float[T * B * H];
        lstm.Forward(B, x, default, default, clean, default, default);
        x[(((NanStep * B) + NanRow) * I) + 4] = float.NaN;
        lstm.Forward(B, x, default, default, poisoned, default, default);

        // And the same stream through a session, one step at a time.
        LstmSession session = lstm.CreateSession(B);
        float[] stepped = new float[T * B * H];
        for (int t = 0; t < T; t++)
        {
            session.Step(x.AsSpan(t * B * I, B * I), stepped.AsSpan(t * B * H, B * H));
        }

        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                for (int j = 0; j < H; j++)
                {
                    int k = (((t * B) + b) * H) + j;
                    if (b == NanRow && t >= NanStep)
                    {
                        Assert.True(float.IsNaN(poisoned[k]) && float.IsNaN(stepped[k]), $"t {t} row {b} unit {j}: expected NaN");
                    }
                    else
                    {
                        Assert.Equal(BitConverter.SingleToInt32Bits(clean[k]), BitConverter.SingleToInt32Bits(poisoned[k]));
                        Assert.True(float.IsFinite(stepped[k]), $"t {t} row {b} unit {j}: session gave {stepped[k]}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Deterministic_SameInputSameBits_AcrossRunsCellsAndBufferOffsets()
    {
        // Run after run, a second cell packed from the same weights, and buffers at every offset modulo 16 floats
        // (so every alignment a vector path can see): bitwise the same outputs.
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 791);
        var cells = new[] { new LstmCell(p), new LstmCell(p.Clone()) };
        (float[] x, float[] h, float[] c) = State(792);
        (float[] h0, float[] c0) = Step(cells[0], x, h, c);
        float[] g0 = new float[Batch * 4 * Hidden];
        Kernels.GateProjection(x, h, p.WeightIh, p.WeightHh, p.Bias, g0);
        float[] l0 = new float[Batch * 4 * Hidden];
        Kernels.Linear(x, p.WeightIh, p.Bias, l0);
        float[] s0 = new float[g0.Length];
        Kernels.Sigmoid(g0, s0);
        float[] y0 = new float[4 * Batch * Hidden];
        var lstm = Lstm.Create([p]);
        lstm.Forward(Batch, [.. x, .. x, .. x, .. x], default, default, y0, default, default);

        for (int offset = 0; offset < 16; offset++)
        {
            foreach (LstmCell cell in cells)
            {
                Span<float> xo = Shifted(x, offset), ho = Shifted(h, offset + 3), co = Shifted(c, offset + 7);
                Span<float> hn = new float[ho.Length + 16].AsSpan(offset, ho.Length), cn = new float[co.Length + 16].AsSpan(15 - offset, co.Length);
                cell.Forward(xo, ho, co, hn, cn);
                Check.BitwiseEqual(h0, hn, $"h at offset {offset}");
                Check.BitwiseEqual(c0, cn, $"c at offset {offset}");
            }

            Span<float> g = new float[g0.Length + 16].AsSpan(offset, g0.Length);
            Kernels.GateProjection(Shifted(x, 15 - offset), Shifted(h, offset), Shifted(p.WeightIh, offset), Shifted(p.WeightHh, 3 + offset), Shifted(p.Bias, offset), g);
            Check.BitwiseEqual(g0, g, $"GateProjection at offset {offset}");
            Span<float> l = new float[l0.Length + 16].AsSpan(offset, l0.Length);
            Kernels.Linear(Shifted(x, offset + 1), Shifted(p.WeightIh, offset), Shifted(p.Bias, 15 - offset), l);
            Check.BitwiseEqual(l0, l, $"Linear at offset {offset}");
            Span<float> s = new float[s0.Length + 16].AsSpan(offset, s0.Length);
            Kernels.Sigmoid(Shifted(g0, 15 - offset), s);
            Check.BitwiseEqual(s0, s, $"Sigmoid at offset {offset}");
            float[] y = new float[y0.Length];
            lstm.Forward(Batch, Shifted([.. x, .. x, .. x, .. x], offset), default, default, y, default, default);
            Check.BitwiseEqual(y0, y, $"Lstm.Forward at offset {offset}");
        }
    }

    /// <summary>
    /// One step of <paramref name="p"/> on the cell and on the double reference. Always: every output finite, |h| ≤ 1,
    /// |c| ≤ (|cPrev| + 1)(1 + 2u). Units whose four pre-activations are saturated for sure (|z| minus its float error
    /// bound ≥ 20) must match the reference within <see cref="Tolerances.SaturatedStep"/>; when the whole step is at
    /// the ordinary scale (every |w·v| term ≤ 1e3) every unit must match within the one-step bounds. Returns the number of
    /// saturated units.
    /// </summary>
}
