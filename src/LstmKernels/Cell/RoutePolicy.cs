namespace LstmKernels.Internal;

/// <summary>
/// Every route choice of <see cref="LstmCell.Forward"/> and <see cref="LstmCell.ForwardSequence"/>, as pure functions of
/// the machine's caches (<see cref="CacheTopology"/>) and of the weight bytes and shape: lookahead or separate
/// projection pass, the projection's chunk, and when <see cref="LstmCell.StepThreads"/> = 2 splits a step or a
/// sequence or pipelines a sequence's projection. <see cref="For"/> derives the thresholds; the properties are
/// <c>init</c> so that tests and the route probe (<c>bench --routes</c>) can force one choice.
/// </summary>
/// <remarks>
/// The thresholds were measured on an AMD Zen 4 host (<see cref="CacheTopology.Zen4"/>) and the functions give exactly
/// those numbers there; docs/kernels.md ("Routes from the machine's caches") has the rules and the measurements.
/// </remarks>
internal sealed record RoutePolicy
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    /// <summary>The most L3 one core is counted to have to itself: the 4 MiB per core of a Zen 2–5 CCX, the most of the server parts measured.</summary>
    public const long MaxL3PerCore = 4 * MiB;

    /// <summary>
    /// More L3 per core than any real part has (Zen 4 X3D: 12 MiB): a report above it is a VM guest listing the host's whole
    /// L3 as shared by its few vCPUs (<see cref="CacheTopology.IntelXeon2026"/>: 260 MiB for 2), and the real share is unknown.
    /// </summary>
    public const long ImplausibleL3PerCore = 16 * MiB;

    /// <summary>A step long enough at L2 speed that splitting it between two cores pays for the hand-over (measured: 512 KiB).</summary>
    public const long StepSplitWork = 512 * KiB;

    /// <summary>Weights per sequence step from which a per-step hand-over pays on every host measured (2 MiB of packed weights; Zen 4 lost below it).</summary>
    public const long SequenceSplitWork = 2 * MiB;

    /// <summary>Weights per sequence step below which a step is too short for a per-step hand-over (measured on the Intel guest: 512 KiB, a tie).</summary>
    public const long SequenceSplitMinWork = 512 * KiB;

    private static readonly Lazy<RoutePolicy> MachinePolicy = new(() => For(CacheTopology.Machine), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The policy of this machine's caches (<see cref="CacheTopology.Machine"/>).</summary>
    public static RoutePolicy Machine => MachinePolicy.Value;

    /// <summary>The caches the thresholds were derived from.</summary>
    public required CacheTopology Cache { get; init; }

    /// <summary>
    /// The cache one core can count on to keep what a sequence re-reads every step (the weights of the lookahead route):
    /// half its L2 (the other half holds what streams through), or its counted share of the L3
    /// (<see cref="CountedL3"/>) where that is larger. Zen 4: 4 MiB (the L3 share); the Intel guest: 1 MiB (half the L2).
    /// </summary>
    public required long CoreCacheBytes { get; init; }

    /// <summary>The packed float32 bytes up to which a batch-1 sequence takes the lookahead route (Zen 4: 4 MiB).</summary>
    public required long LookaheadBudget { get; init; }

    /// <summary>The input size from which a batch-1 sequence takes the lookahead route (not a cache matter: the projection's share of the step).</summary>
    public int LookaheadMinInput { get; init; } = 64;

    /// <summary>Bytes of input projection a sequence computes ahead of its recurrent steps (Zen 4 and the Intel guest: 4 MiB).</summary>
    public required long ProjectionBudgetBytes { get; init; }

    /// <summary>The longest chunk of steps whose projection a second thread computes ahead (<see cref="LstmCell.StepThreads"/> = 2).</summary>
    public int PipelineChunk { get; init; } = 16;

    /// <summary>The B·I·H from which <see cref="LstmCell.StepThreads"/> = 2 pipelines a sequence's projection (a hand-over per chunk against the chunk's FMAs).</summary>
    public long PipelineMinWork { get; init; } = 8192;

    /// <summary>The packed bytes from which <see cref="LstmCell.StepThreads"/> = 2 splits every sequence step by panels (Zen 4: 2 MiB).</summary>
    public required long SplitMinBytes { get; init; }

    /// <summary>The B × packed bytes from which <see cref="LstmCell.StepThreads"/> = 2 splits a <see cref="LstmCell.Forward"/> step (Zen 4: 512 KiB).</summary>
    public required long ParallelStepMinBytes { get; init; }

    /// <summary>
    /// The packed float32 bytes above which a step prefetches each next panel's rows while it takes the current one's:
    /// weights that do not fit one core's L2 (Zen 4: 1 MiB, the Intel guest: 2 MiB) come from the L3 or memory, and the
    /// hardware prefetchers do not see the jump from one panel's part to the next.
    /// </summary>
    public required long PrefetchMinBytes { get; init; }

    /// <summary>
    /// The policy of <paramref name="cache"/>. With L2 = one core's L2 (<see cref="CacheTopology.Default"/>'s 256 KiB if
    /// none is reported) and L3 = <see cref="CountedL3"/>:
    /// <list type="bullet">
    /// <item><see cref="CoreCacheBytes"/> = max(L2 / 2, L3).</item>
    /// <item><see cref="LookaheadBudget"/> = <see cref="CoreCacheBytes"/>: the route reads Wᵢₕ and Wₕₕ every step, so both must stay in the core's cache.</item>
    /// <item><see cref="ProjectionBudgetBytes"/> = max(2 × L2, L3): a chunk's projection is written once and read back once by its
    /// steps, so it may pass through the L2 as long as it stays in the caches; the longer the chunk, the less often Wᵢₕ is
    /// read (once per chunk: at 1024x1024, batch 16, 4 MiB chunks were 1.06x faster than 1 MiB chunks on the Intel guest).</item>
    /// <item><see cref="SplitMinBytes"/> = <see cref="CoreCacheBytes"/> clamped to [<see cref="SequenceSplitMinWork"/>, <see cref="SequenceSplitWork"/>]:
    /// once the weights overflow what one core keeps, two cores' caches and FMA units pay for the hand-over per step (Intel
    /// guest: split 0.96x the pipelined route at 1.1 MiB, 0.79x at 2 MiB; Zen 4, whose two vCPUs share one core: lost below 2 MiB).</item>
    /// <item><see cref="ParallelStepMinBytes"/> = min(<see cref="StepSplitWork"/>, L2): a step that overflows one core's L2 streams slower alone than in two L2s.</item>
    /// <item><see cref="PrefetchMinBytes"/> = L2: only weights that overflow it are prefetched (below, the prefetches would only cost issue slots).</item>
    /// </list>
    /// </summary>
    public static RoutePolicy For(CacheTopology cache)
    {
        long l2 = cache.L2PerCore > 0 ? cache.L2PerCore : CacheTopology.Default.L2;
        long core = Math.Max(l2 / 2, CountedL3(cache));
        return new RoutePolicy
        {
            Cache = cache,
            CoreCacheBytes = core,
            LookaheadBudget = core,
            ProjectionBudgetBytes = Math.Max(2 * l2, CountedL3(cache)),
            SplitMinBytes = Math.Clamp(core, SequenceSplitMinWork, SequenceSplitWork),
            ParallelStepMinBytes = Math.Min(StepSplitWork, l2),
            PrefetchMinBytes = l2,
        };
    }

    /// <summary>
    /// The L3 one core counts as its own: its share (<see cref="CacheTopology.L3PerCore"/>) up to <see cref="MaxL3PerCore"/>,
    /// and none when the share reported is above <see cref="ImplausibleL3PerCore"/> (then it is not known).
    /// </summary>
    public static long CountedL3(CacheTopology cache) =>
        cache.L3PerCore > ImplausibleL3PerCore ? 0 : Math.Min(cache.L3PerCore, MaxL3PerCore);

    /// <summary>
    /// Whether a batch-1 sequence of float32 weights (<paramref name="packedBytes"/>, input size <paramref name="input"/>)
    /// folds its projection into the recurrent steps: I ≥ <see cref="LookaheadMinInput"/> and packed ≤ <see cref="LookaheadBudget"/>.
    /// </summary>
    public bool Lookahead(long packedBytes, int input) => input >= LookaheadMinInput && packedBytes <= LookaheadBudget;

    /// <summary>The steps whose projection a sequence computes in one pass: as many as <see cref="ProjectionBudgetBytes"/> holds, 1 to <paramref name="steps"/>.</summary>
    public int ProjectionChunk(int stepProjectionFloats, int steps) =>
        (int)Math.Clamp(ProjectionBudgetBytes / sizeof(float) / Math.Max(stepProjectionFloats, 1), 1, Math.Max(steps, 1));

    /// <summary>The longest chunk of the pipelined route: half of <see cref="ProjectionBudgetBytes"/> (two chunks are in flight), at most <see cref="PipelineChunk"/>.</summary>
    public int PipelinedChunk(int stepProjectionFloats) =>
        (int)Math.Clamp(ProjectionBudgetBytes / sizeof(float) / 2 / Math.Max(stepProjectionFloats, 1), 1, PipelineChunk);

    /// <summary>Whether two threads split every step of a sequence of <paramref name="packedBytes"/> by panels.</summary>
    public bool SplitSequence(long packedBytes) => packedBytes >= SplitMinBytes;

    /// <summary>Whether two threads pipeline the projection of a sequence of B·I·H = <paramref name="work"/> (when it does not split).</summary>
    public bool PipelineSequence(long work) => work >= PipelineMinWork;

    /// <summary>Whether two threads split a single step that streams <paramref name="bytes"/> (B × packed) of weights.</summary>
    public bool SplitStep(long bytes) => bytes >= ParallelStepMinBytes;

    /// <summary>One line for reports: the thresholds these caches give.</summary>
    public string Describe() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"lookahead ≤ {LookaheadBudget / KiB} KiB packed (and I ≥ {LookaheadMinInput}), projection chunk ≤ {ProjectionBudgetBytes / KiB} KiB, " +
        $"2-thread sequence split ≥ {SplitMinBytes / KiB} KiB, 2-thread step split ≥ {ParallelStepMinBytes / KiB} KiB, prefetch > {PrefetchMinBytes / KiB} KiB");
}
