using LstmKernels.Internal;
using Xunit.Abstractions;

namespace LstmKernels.Tests;

/// <summary>
/// The route heuristics as functions of the caches (Cell/RoutePolicy.cs) pinned against synthetic cache tables: the
/// Zen 4 host they were tuned on (the functions must give its constants), the Intel Xeon guest of 2026-12, and the
/// small-cache default; and the cell's init properties that still force a route.
/// </summary>
public sealed class RoutePolicyTests(ITestOutputHelper output)
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    [Fact]
    public void Zen4_GivesTheConstantsTunedOnIt()
    {
        RoutePolicy zen4 = RoutePolicy.For(CacheTopology.Zen4);
        Assert.Equal(1 * MiB, CacheTopology.Zen4.L2PerCore);
        Assert.Equal(4 * MiB, CacheTopology.Zen4.L3PerCore);
        Assert.Equal(4 * MiB, zen4.LookaheadBudget);
        Assert.Equal(1 << 20, zen4.ProjectionBudgetBytes / sizeof(float));
        Assert.Equal(2 * MiB, zen4.SplitMinBytes);
        Assert.Equal(512 * KiB, zen4.ParallelStepMinBytes);
        Assert.Equal(1 * MiB, zen4.PrefetchMinBytes);
        Assert.Equal(16, zen4.PipelineChunk);
        Assert.Equal(8192, zen4.PipelineMinWork);
        Assert.Equal(64, zen4.LookaheadMinInput);
    }

    /// <summary>Each choice at the sizes measured on Zen 4 (docs/kernels.md, docs/benchmarks.md), as it was chosen there.</summary>
    [Theory]
    [InlineData(32, 64, false, false, false)]      // I < 64: the projection is too small a share
    [InlineData(64, 64, true, false, false)]
    [InlineData(128, 128, true, false, true)]      // 512 KiB: a single step splits
    [InlineData(192, 192, true, false, true)]      // 1.1 MiB: the sequence pipelines
    [InlineData(512, 128, true, false, true)]
    [InlineData(384, 384, false, true, true)]      // 4.5 MiB: past the 4 MiB L3 share
    [InlineData(256, 256, true, true, true)]       // 2 MiB: the sequence splits by panels
    [InlineData(512, 512, false, true, true)]
    [InlineData(1024, 1024, false, true, true)]
    public void Zen4_Choices(int input, int hidden, bool lookahead, bool splitSequence, bool splitStep) =>
        CheckChoices(RoutePolicy.For(CacheTopology.Zen4), input, hidden, lookahead, splitSequence, splitStep);

    [Fact]
    public void IntelXeon2026_CountsNoL3_AndHalfItsL2ForTheLookahead()
    {
        RoutePolicy intel = RoutePolicy.For(CacheTopology.IntelXeon2026);
        Assert.Equal(130 * MiB, CacheTopology.IntelXeon2026.L3PerCore);
        Assert.Equal(0, RoutePolicy.CountedL3(CacheTopology.IntelXeon2026));
        Assert.Equal(1 * MiB, intel.LookaheadBudget);
        Assert.Equal(4 * MiB, intel.ProjectionBudgetBytes);
        Assert.Equal(1 * MiB, intel.SplitMinBytes);
        Assert.Equal(512 * KiB, intel.ParallelStepMinBytes);
        Assert.Equal(2 * MiB, intel.PrefetchMinBytes);
    }

    /// <summary>The Intel guest: lookahead only while both matrices sit in half its 2 MiB L2 (measured with <c>bench -- --routes</c>).</summary>
    [Theory]
    [InlineData(32, 64, false, false, false)]
    [InlineData(64, 64, true, false, false)]
    [InlineData(128, 128, true, false, true)]
    [InlineData(192, 192, false, true, true)]
    [InlineData(512, 128, false, true, true)]
    [InlineData(256, 256, false, true, true)]
    [InlineData(384, 384, false, true, true)]
    [InlineData(1024, 1024, false, true, true)]
    public void IntelXeon2026_Choices(int input, int hidden, bool lookahead, bool splitSequence, bool splitStep) =>
        CheckChoices(RoutePolicy.For(CacheTopology.IntelXeon2026), input, hidden, lookahead, splitSequence, splitStep);

    [Fact]
    public void Default_IsSmallAndSafe()
    {
        RoutePolicy small = RoutePolicy.For(CacheTopology.Default);
        Assert.Equal(128 * KiB, small.LookaheadBudget);
        Assert.Equal(512 * KiB, small.ProjectionBudgetBytes);
        Assert.Equal(512 * KiB, small.SplitMinBytes);
        Assert.Equal(256 * KiB, small.ParallelStepMinBytes);
        Assert.Equal(256 * KiB, small.PrefetchMinBytes);
        CheckChoices(small, 64, 64, lookahead: true, splitSequence: false, splitStep: false);
        CheckChoices(small, 128, 128, lookahead: false, splitSequence: true, splitStep: true);

        // A machine that reports no L2 at all is treated as having the default's.
        Assert.Equal(small with { Cache = CacheTopology.Default with { L2 = 0 } }, RoutePolicy.For(CacheTopology.Default with { L2 = 0 }));
    }

    /// <summary>More L3 than a core can have is counted at 4 MiB; an implausible share (a VM's) not at all; a small one as it is.</summary>
    [Theory]
    [InlineData(96, 16, 2, 4)]    // Zen 4 X3D: 12 MiB per core, counted as 4
    [InlineData(105, 112, 2, 1)]  // Sapphire Rapids, 56 cores: 1.875 MiB per core
    [InlineData(260, 2, 1, 0)]    // the Intel guest: 130 MiB "per core"
    [InlineData(0, 1, 1, 0)]      // no L3
    public void CountedL3_BoundsTheShare(long l3MiB, int sharedBy, int threadsPerCore, long countedMiB)
    {
        var cache = new CacheTopology(32 * KiB, threadsPerCore, 2 * MiB, threadsPerCore, l3MiB * MiB, sharedBy, CacheSource.Synthetic);
        Assert.Equal(countedMiB, RoutePolicy.CountedL3(cache) / MiB);
    }

    /// <summary>Within plausible sizes, thresholds never shrink as a cache grows (a bigger L2 or L3 never makes a route give up earlier).</summary>
    [Fact]
    public void Thresholds_GrowWithTheCaches()
    {
        for (long l2 = 128 * KiB; l2 <= 8 * MiB; l2 *= 2)
        {
            for (long l3 = 0; l3 <= 64 * MiB; l3 = l3 == 0 ? 1 * MiB : l3 * 2)
            {
                RoutePolicy policy = RoutePolicy.For(new CacheTopology(32 * KiB, 1, l2, 1, l3, 8, CacheSource.Synthetic));
                RoutePolicy less = RoutePolicy.For(new CacheTopology(32 * KiB, 1, l2 / 2, 1, l3 / 2, 8, CacheSource.Synthetic));
                Assert.True(policy.LookaheadBudget >= less.LookaheadBudget);
                Assert.True(policy.ProjectionBudgetBytes >= less.ProjectionBudgetBytes);
                Assert.True(policy.SplitMinBytes >= less.SplitMinBytes);
                Assert.True(policy.PrefetchMinBytes >= less.PrefetchMinBytes);
                Assert.True(policy.ParallelStepMinBytes >= less.ParallelStepMinBytes);
            }
        }
    }

    [Fact]
    public void ProjectionChunk_FillsTheBudget()
    {
        RoutePolicy zen4 = RoutePolicy.For(CacheTopology.Zen4);
        Assert.Equal(1024, zen4.ProjectionChunk(4 * 256, 5000));   // 4 MiB of 4 KiB steps
        Assert.Equal(64, zen4.ProjectionChunk(4 * 256, 64));       // never more than the sequence
        Assert.Equal(1, zen4.ProjectionChunk(1 << 21, 64));        // at least one step
        Assert.Equal(16, zen4.PipelinedChunk(4 * 64));              // capped at PipelineChunk
        Assert.Equal(2, zen4.PipelinedChunk(1 << 18));              // two chunks of 1 MiB in flight
    }

    /// <summary>The cell asks its <c>Routes</c>; a synthetic table, or one forced threshold, changes the route it takes.</summary>
    [Fact]
    public void Cell_TakesItsRoutesFromItsPolicy_AndInitPropertiesStillForceRoutes()
    {
        LstmParameters p = LstmParameters.CreateRandom(256, 256, 1);
        Assert.Same(RoutePolicy.Machine, new LstmCell(p).Routes);

        var zen4 = new LstmCell(p) { Routes = RoutePolicy.For(CacheTopology.Zen4) };
        var intel = new LstmCell(p) { Routes = RoutePolicy.For(CacheTopology.IntelXeon2026) };
        bool vector512 = Kernels.ActivePath == SimdPath.Vector512;
        Assert.Equal(vector512, zen4.UsesLookahead(64, 1));
        Assert.False(intel.UsesLookahead(64, 1));
        Assert.False(new LstmCell(p) { Routes = RoutePolicy.For(CacheTopology.Zen4), LookaheadEnabled = false }.UsesLookahead(64, 1));
        Assert.Equal(vector512, new LstmCell(p) { Routes = intel.Routes with { LookaheadBudget = long.MaxValue } }.UsesLookahead(64, 1));

        var two = new LstmCell(p) { StepThreads = 2, Routes = RoutePolicy.For(CacheTopology.Zen4) };
        Assert.True(two.UsesSplit(64));
        Assert.False(new LstmCell(p) { StepThreads = 2, Routes = two.Routes with { SplitMinBytes = long.MaxValue } }.UsesSplit(64));
        Assert.True(new LstmCell(p) { StepThreads = 2, Routes = two.Routes with { SplitMinBytes = long.MaxValue } }.UsesPipeline(64, 1));

        var small = new LstmCell(LstmParameters.CreateRandom(32, 64, 1)) { StepThreads = 2 };
        Assert.False(small.UsesParallelStep(1));
        Assert.True(new LstmCell(LstmParameters.CreateRandom(32, 64, 1)) { StepThreads = 2, ParallelStepMinBytes = 0 }.UsesParallelStep(1));
        Assert.True(new LstmCell(LstmParameters.CreateRandom(32, 64, 1)) { ParallelStepMinBytes = 0, Routes = RoutePolicy.Machine, StepThreads = 2 }.UsesParallelStep(1));

        // The sequences agree whatever the route: a forced route is still the same LSTM.
        float[] xs = Generators.Fill(20 * 256, Dist.Unit, 3);
        float[] y1 = new float[20 * 256], y2 = new float[20 * 256];
        zen4.ForwardSequence(xs, new float[256], new float[256], y1, new float[256], new float[256]);
        intel.ForwardSequence(xs, new float[256], new float[256], y2, new float[256], new float[256]);
        for (int k = 0; k < y1.Length; k++)
        {
            Check.Near(y1[k], y2[k], Tolerances.SequenceFactor((k / 256) + 1) * Tolerances.FusedVsUnfused * Tolerances.CellH, "lookahead vs separate pass", k);
        }
    }

    [Fact]
    public void Machine_IsReadOnce_AndDescribed()
    {
        CacheTopology machine = CacheTopology.Machine;
        Assert.Same(machine, CacheTopology.Machine);
        Assert.True(machine.L1Data > 0);
        Assert.True(machine.L1SharedBy >= 1 && machine.L2SharedBy >= 1 && machine.L3SharedBy >= 1);
        output.WriteLine(RoutePolicy.Machine.Describe());
    }

    private static void CheckChoices(RoutePolicy policy, int input, int hidden, bool lookahead, bool splitSequence, bool splitStep)
    {
        long bytes = new LstmCell(LstmParameters.CreateRandom(input, hidden, 1)).PackedBytes;
        Assert.Equal(16L * ((hidden + 15) / 16) * (input + hidden) * 16, bytes);
        Assert.Equal(lookahead, policy.Lookahead(bytes, input));
        Assert.Equal(splitSequence, policy.SplitSequence(bytes));
        Assert.Equal(splitStep, policy.SplitStep(bytes));
        Assert.Equal(policy.ProjectionChunk(4 * hidden, int.MaxValue), (int)Math.Max(1, policy.ProjectionBudgetBytes / (16L * hidden)));
    }
}
