using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using Perfolizer.Horology;

namespace LstmKernels.Benchmarks;

/// <summary>The job and summary shape every benchmark class of this suite uses.</summary>
/// <remarks>
/// A short job: the machine is a shared 2-core VM, so tight confidence intervals are out of reach anyway and the
/// ratios of contenders measured side by side in one run are what the docs report. 250 ms iterations still give
/// the slowest reference step (≈0.5 s) one call per iteration.
/// </remarks>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddJob(Job.Default
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(8)
            .WithIterationTime(TimeInterval.FromMilliseconds(250)));

        // Classes with several kernels give each its own baseline through a category.
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);

        // "12.3x faster" reads directly as the speed-up over the naive twin.
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend);
        HideColumns(Column.Error, Column.StdDev, Column.RatioSD, Column.Gen0, Column.Gen1, Column.Gen2, Column.AllocRatio);
    }
}
