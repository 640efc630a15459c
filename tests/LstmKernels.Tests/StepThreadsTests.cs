using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>Runs alone: the allocation test must not see the thread pool's queue grow under other tests' load.</summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;

/// <summary>
/// LstmCell.StepThreads = 2 (Internal/ParallelStep.cs): the same bits as one thread, no allocation, bad values; and
/// ForwardSequence on two threads (Internal/ParallelSequence.cs): split by panels (bitwise as one thread) or a pipelined
/// projection (within the bounds, deterministic), no allocation.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class StepThreadsTests
{
    [Theory]
    [InlineData(WeightPrecision.Float32, 17, 33, 1)]
    [InlineData(WeightPrecision.Float32, 64, 100, 5)]
    [InlineData(WeightPrecision.BFloat16, 40, 257, 4)]
    [InlineData(WeightPrecision.Int8, 8, 48, 2)]
    public void TwoThreads_GiveTheSameBitsAsOne(WeightPrecision precision, int input, int hidden, int batch)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, 3);
        var one = new LstmCell(p, precision);
        var two = new LstmCell(p, precision) { StepThreads = 2, ParallelStepMinBytes = 0 };
        Assert.True(two.UsesParallelStep(batch));
        float[] h1 = Generators.Fill(batch * hidden, Dist.Unit, 1), c1 = Generators.Fill(batch * hidden, Dist.Unit, 2);
        float[] h2 = (float[])h1.Clone(), c2 = (float[])c1.Clone();
        for (int t = 0; t < 10; t++)
        {
            float[] x = Generators.Fill(batch * input, Dist.Unit, 10 + t);
            one.Forward(x, h1, c1, h1, c1);
            two.Forward(x, h2, c2, h2, c2);
        }

        Check.BitwiseEqual(h1, h2, "h");
        Check.BitwiseEqual(c1, c2, "c");

        // And both match the reference on the cell's weights: the split covers every unit exactly once.
        var reference = new ReferenceLstmCell(two.GetEffectiveParameters());
        float[] x0 = Generators.Fill(batch * input, Dist.Unit, 99);
        float[] hr = new float[h1.Length], cr = new float[c1.Length];
        reference.Forward(x0, h1, c1, hr, cr);
        two.Forward(x0, h2, c2, h2, c2);
        for (int k = 0; k < hr.Length; k++)
        {
            Check.Near(hr[k], h2[k], Tolerances.CellH, "h vs reference", k);
            Check.Near(cr[k], c2[k], Tolerances.CellC(cr[k]), "c vs reference", k);
        }
    }

    [Fact]
    public void TwoThreads_FromSeveralCallers_StayBitwiseEqual()
    {
        const int Callers = 4, Hidden = 96, Input = 20;
        var cell = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, 5)) { StepThreads = 2, ParallelStepMinBytes = 0 };
        Assert.True(cell.UsesParallelStep(1));
        var alone = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, 5));
        float[][] expected = new float[Callers][], got = new float[Callers][];
        var threads = new Thread[Callers];
        for (int k = 0; k < Callers; k++)
        {
            int id = k;
            expected[id] = Run(alone, id);
            threads[id] = new Thread(() => got[id] = Run(cell, id));
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        for (int k = 0; k < Callers; k++)
        {
            Check.BitwiseEqual(expected[k], got[k], $"caller {k}");
        }

        static float[] Run(LstmCell c, int seed)
        {
            float[] h = new float[Hidden], s = new float[Hidden];
            for (int t = 0; t < 200; t++)
            {
                c.Forward(Generators.Fill(Input, Dist.Unit, (seed * 1000) + t), h, s, h, s);
            }

            return h;
        }
    }

    [Fact]
    public void TwoThreads_DoNotAllocate()
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(32, 64, 2)) { StepThreads = 2, ParallelStepMinBytes = 0 };
        Assert.True(cell.UsesParallelStep(1));
        float[] x = Generators.Fill(32, Dist.Unit, 1), h = new float[64], c = new float[64];
        Assert.Equal(0, Allocation.Measure(() => cell.Forward(x, h, c, h, c)));
    }

    /// <summary>Steps that stream less than 512 KiB of weights stay on the caller, where the hand-over would cost more.</summary>
    [Fact]
    public void TwoThreads_SmallSteps_StayOnTheCaller()
    {
        var small = new LstmCell(LstmParameters.CreateRandom(32, 64, 2)) { StepThreads = 2 };
        Assert.False(small.UsesParallelStep(1), "96 KiB at batch 1");
        Assert.True(small.UsesParallelStep(8), "8 × 96 KiB");
        Assert.True(new LstmCell(LstmParameters.CreateRandom(128, 128, 2)) { StepThreads = 2 }.UsesParallelStep(1), "512 KiB at batch 1");
        Assert.False(new LstmCell(LstmParameters.CreateRandom(128, 128, 2)).UsesParallelStep(16), "StepThreads = 1");
        Assert.False(new LstmCell(LstmParameters.CreateRandom(512, 8, 2)) { StepThreads = 2 }.UsesParallelStep(64), "one panel");
    }

    /// <summary>
    /// The pipelined sequence (chunks of 2, 4, 8, 16, 16, … steps projected on the second thread) against the reference
    /// and against one thread, for every precision, with whole and partial chunks; and run twice, bitwise the same.
    /// </summary>
    [Theory]
    [InlineData(WeightPrecision.Float32, 70, 130, 1, 45)]
    [InlineData(WeightPrecision.Float32, 128, 64, 1, 3)]
    [InlineData(WeightPrecision.Float32, 33, 100, 3, 31)]
    [InlineData(WeightPrecision.BFloat16, 96, 96, 1, 17)]
    [InlineData(WeightPrecision.Int8, 64, 130, 2, 9)]
    public void TwoThreads_Sequence_MatchesReferenceAndOneThread(WeightPrecision precision, int input, int hidden, int batch, int steps)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, 4);
        var two = new LstmCell(p, precision) { StepThreads = 2 };
        Assert.True(two.UsesPipeline(steps, batch), "B·I·H is past the pipeline's threshold");
        Assert.False(new LstmCell(p, precision).UsesPipeline(steps, batch));
        int states = batch * hidden;
        float[] xs = Generators.Fill(steps * batch * input, Dist.Unit, 5);
        float[] h0 = Generators.Fill(states, Dist.Unit, 6), c0 = Generators.Fill(states, Dist.Unit, 7);
        float[] ys = new float[steps * states], hT = new float[states], cT = new float[states];
        two.ForwardSequence(xs, h0, c0, ys, hT, cT);

        float[] again = new float[ys.Length];
        two.ForwardSequence(xs, h0, c0, again, new float[states], new float[states]);
        Check.BitwiseEqual(ys, again, "ys, second run");

        float[] ys1 = new float[ys.Length];
        new LstmCell(p, precision).ForwardSequence(xs, h0, c0, ys1, new float[states], new float[states]);
        var reference = new ReferenceLstmCell(two.GetEffectiveParameters());
        double[] h = PyTorchEquations.ToDouble(h0), c = PyTorchEquations.ToDouble(c0);
        for (int t = 0; t < steps; t++)
        {
            reference.Forward(PyTorchEquations.ToDouble(xs.AsSpan(t * batch * input, batch * input)), h, c, h, c);
            for (int k = 0; k < states; k++)
            {
                int at = (t * states) + k;
                Check.Near(h[k], ys[at], Tolerances.SequenceFactor(t + 1) * Tolerances.CellH, $"ys[{t}] vs reference", k);
                Check.Near(ys1[at], ys[at], Tolerances.SequenceFactor(t + 1) * Tolerances.FusedVsUnfused * Tolerances.CellH, $"ys[{t}] vs one thread", k);
            }
        }

        Check.BitwiseEqual(ys.AsSpan((steps - 1) * states), hT, "hT = ys[T − 1]");
        for (int k = 0; k < states; k++)
        {
            Check.Near(c[k], cT[k], Tolerances.SequenceFactor(steps) * Tolerances.CellC(c[k]), "cT vs reference", k);
        }
    }

    /// <summary>
    /// Cells of 2 MiB and more split every step (and every chunk's projection) by panels between the two threads: each
    /// panel is computed as on one thread, so the result is bitwise the one-thread separate-pass route's.
    /// </summary>
    [Theory]
    [InlineData(WeightPrecision.Float32, 256, 256, 1, 20)]
    [InlineData(WeightPrecision.Float32, 200, 300, 3, 7)]
    [InlineData(WeightPrecision.BFloat16, 400, 400, 1, 5)]
    [InlineData(WeightPrecision.Int8, 700, 700, 2, 4)]
    public void TwoThreads_LargeSequence_SplitsByPanels_BitwiseAsOneThread(WeightPrecision precision, int input, int hidden, int batch, int steps)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, 6);
        var two = new LstmCell(p, precision) { StepThreads = 2 };
        Assert.True(two.UsesSplit(steps), $"{two.PackedBytes} bytes take the split route");
        Assert.False(two.UsesPipeline(steps, batch));
        var one = new LstmCell(p, precision) { LookaheadEnabled = false };
        int states = batch * hidden;
        float[] xs = Generators.Fill(steps * batch * input, Dist.Unit, 8);
        float[] h0 = Generators.Fill(states, Dist.Unit, 9), c0 = Generators.Fill(states, Dist.Unit, 10);
        float[] ys2 = new float[steps * states], hT2 = new float[states], cT2 = new float[states];
        float[] ys1 = new float[steps * states], hT1 = new float[states], cT1 = new float[states];
        two.ForwardSequence(xs, h0, c0, ys2, hT2, cT2);
        one.ForwardSequence(xs, h0, c0, ys1, hT1, cT1);
        Check.BitwiseEqual(ys1, ys2, "ys");
        Check.BitwiseEqual(hT1, hT2, "hT");
        Check.BitwiseEqual(cT1, cT2, "cT");

        // In place (hT = h0, cT = c0, no ys), as a caller streaming chunks would.
        float[] h = (float[])h0.Clone(), c = (float[])c0.Clone();
        two.ForwardSequence(xs, h, c, [], h, c);
        Check.BitwiseEqual(hT1, h, "in place h");
        Check.BitwiseEqual(cT1, c, "in place c");
    }

    [Fact]
    public void TwoThreads_Sequence_BelowTheThreshold_IsTheOneThreadRoute()
    {
        LstmParameters p = LstmParameters.CreateRandom(32, 64, 4);
        var two = new LstmCell(p) { StepThreads = 2 };
        Assert.False(two.UsesPipeline(64, 1), "32·64 is below the threshold");
        Assert.True(two.UsesPipeline(64, 4), "4·32·64 is not");
        Assert.False(two.UsesPipeline(1, 4), "one step has nothing to overlap");
        float[] xs = Generators.Fill(20 * 32, Dist.Unit, 5);
        float[] ys1 = new float[20 * 64], ys2 = new float[20 * 64];
        new LstmCell(p).ForwardSequence(xs, new float[64], new float[64], ys1, new float[64], new float[64]);
        two.ForwardSequence(xs, new float[64], new float[64], ys2, new float[64], new float[64]);
        Check.BitwiseEqual(ys1, ys2, "ys");
    }

    [Theory]
    [InlineData(96, false)]
    [InlineData(256, true)]
    public void TwoThreads_Sequence_DoesNotAllocate(int size, bool split)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(size, size, 2)) { StepThreads = 2 };
        Assert.Equal(split, cell.UsesSplit(40));
        Assert.Equal(!split, cell.UsesPipeline(40, 1));
        float[] xs = Generators.Fill(40 * size, Dist.Unit, 1), h = new float[size], c = new float[size], ys = new float[40 * size];
        // 300 sequences of 40 steps a window: a per-call allocation shows in every window. The default 3000 took 70–90 s
        // on the Vector128 and scalar legs at 256x256 (measured 2026-12-03), most of CI's time.
        Assert.Equal(0, Allocation.Measure(() => cell.ForwardSequence(xs, h, c, ys, h, c), warmUp: 30, iterations: 300));
    }

    /// <summary>
    /// With every thread-pool thread blocked and the pool not allowed to add one, a two-thread step and sequence still
    /// finish, with the one-thread results: the caller runs the half no pool thread has claimed (Internal/PooledWork.cs).
    /// Without that, the caller would wait for a pool thread that never comes.
    /// </summary>
    [Fact]
    public void TwoThreads_WithTheThreadPoolSaturated_StillFinish()
    {
        LstmParameters p = LstmParameters.CreateRandom(256, 256, 7);
        var two = new LstmCell(p) { StepThreads = 2 };
        var one = new LstmCell(p) { LookaheadEnabled = false };
        float[] x = Generators.Fill(256, Dist.Unit, 1), xs = Generators.Fill(10 * 256, Dist.Unit, 2);
        float[] h1 = new float[256], c1 = new float[256], h2 = new float[256], c2 = new float[256];
        one.Forward(x, h1, c1, h1, c1);
        one.ForwardSequence(xs, h1, c1, [], h1, c1);

        ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
        ThreadPool.GetMinThreads(out int minWorkers, out _);
        using var release = new ManualResetEventSlim();
        int started = 0, finished = 0;
        const int Blockers = 64;
        bool done = false;
        try
        {
            Assert.True(ThreadPool.SetMaxThreads(minWorkers, maxIo), "the pool's maximum can be lowered to its minimum");
            for (int k = 0; k < Blockers; k++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(
                    _ =>
                    {
                        Interlocked.Increment(ref started);
                        release.Wait();
                        Interlocked.Increment(ref finished);
                    },
                    null);
            }

            // Wait until the pool's threads are all taken by blockers (and the rest of them queued before our work).
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int seen = -1;
            while (clock.ElapsedMilliseconds < 5000 && (Volatile.Read(ref started) != seen || clock.ElapsedMilliseconds < 300))
            {
                seen = Volatile.Read(ref started);
                Thread.Sleep(100);
            }

            Assert.True(Volatile.Read(ref started) < Blockers, "the pool is saturated: some blockers are still queued");
            var caller = new Thread(() =>
            {
                two.Forward(x, h2, c2, h2, c2);
                two.ForwardSequence(xs, h2, c2, [], h2, c2);
                done = true;
            });
            caller.Start();
            Assert.True(caller.Join(TimeSpan.FromSeconds(15)), "a two-thread step and sequence finish while the pool is saturated");
        }
        finally
        {
            release.Set();
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
            SpinWait.SpinUntil(() => Volatile.Read(ref finished) == Blockers, TimeSpan.FromSeconds(30));
        }

        Assert.True(done);
        Check.BitwiseEqual(h1, h2, "h");
        Check.BitwiseEqual(c1, c2, "c");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-1)]
    public void StepThreads_ThrowsOutsideOneOrTwo(int threads)
    {
        LstmParameters p = LstmParameters.CreateRandom(2, 3, 1);
        Check.Throws<ArgumentOutOfRangeException>("StepThreads", () => _ = new LstmCell(p) { StepThreads = threads });
        Assert.Equal(1, new LstmCell(p).StepThreads);
    }
}
