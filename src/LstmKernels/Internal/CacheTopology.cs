using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace LstmKernels.Internal;

/// <summary>Where a <see cref="CacheTopology"/> came from.</summary>
internal enum CacheSource
{
    /// <summary>Linux sysfs: <c>/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size,shared_cpu_list}</c>.</summary>
    Sysfs,

    /// <summary>x86 CPUID: leaf 4 (Intel) or 0x8000001D (AMD), the deterministic cache parameters.</summary>
    Cpuid,

    /// <summary>Neither could be read: <see cref="CacheTopology.Default"/>.</summary>
    Default,

    /// <summary>Written by hand (tests, the cache tables of hosts that the routes were measured on).</summary>
    Synthetic,
}

/// <summary>
/// The data caches of the core the code runs on, as the route heuristics (<c>Cell/RoutePolicy.cs</c>) need them: the
/// size of L1d, L2 and L3 and how many logical CPUs share each. Read once per process from the machine
/// (<see cref="Machine"/>): Linux sysfs, else CPUID, else <see cref="Default"/>; reading never throws.
/// </summary>
/// <param name="L1Data">Bytes of level-1 data cache.</param>
/// <param name="L1SharedBy">Logical CPUs that share the L1d: the hardware threads of one core.</param>
/// <param name="L2">Bytes of level-2 cache (unified); 0 if there is none.</param>
/// <param name="L2SharedBy">Logical CPUs that share the L2.</param>
/// <param name="L3">Bytes of level-3 cache (unified); 0 if there is none.</param>
/// <param name="L3SharedBy">Logical CPUs that share the L3.</param>
/// <param name="Source">Where the numbers came from.</param>
internal sealed record CacheTopology(long L1Data, int L1SharedBy, long L2, int L2SharedBy, long L3, int L3SharedBy, CacheSource Source)
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    private static readonly Lazy<CacheTopology> MachineTopology = new(ReadMachine, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// The safe default when the machine says nothing: 32 KiB L1d and 256 KiB L2 per core, no L3 counted. Every x86 and
    /// Arm server core of the last decade has at least this much, so routes sized for it never count on cache that is
    /// not there; they only leave cache unused on bigger cores.
    /// </summary>
    public static CacheTopology Default { get; } = new(32 * KiB, 1, 256 * KiB, 1, 0, 1, CacheSource.Default);

    /// <summary>
    /// The AMD EPYC Zen 4 host of the sessions that tuned the routes (2026-11): 32 KiB L1d and 1 MiB L2 per core (two
    /// threads each), 32 MiB L3 shared by the 8 cores (16 threads) of a CCD.
    /// </summary>
    public static CacheTopology Zen4 { get; } = new(32 * KiB, 2, 1 * MiB, 2, 32 * MiB, 16, CacheSource.Synthetic);

    /// <summary>
    /// The Intel Xeon host of 2026-12 (family 6, model 207, a 2-vCPU KVM guest) as its sysfs reports it: 48 KiB L1d and
    /// 2 MiB L2 per vCPU, and the host's 260 MiB L3 listed as shared by the guest's two vCPUs only.
    /// </summary>
    public static CacheTopology IntelXeon2026 { get; } = new(48 * KiB, 1, 2 * MiB, 1, 260 * MiB, 2, CacheSource.Synthetic);

    /// <summary>The caches of this machine, read on first use (sysfs, else CPUID, else <see cref="Default"/>).</summary>
    public static CacheTopology Machine => MachineTopology.Value;

    /// <summary>Hardware threads per core: the L1d's sharers (at least 1).</summary>
    public int ThreadsPerCore => Math.Max(L1SharedBy, 1);

    /// <summary>Bytes of L2 one core has to itself: the L2 divided among the cores that share it (1 on current x86).</summary>
    public long L2PerCore => L2 / Math.Max(1, Math.Max(L2SharedBy, 1) / ThreadsPerCore);

    /// <summary>
    /// One core's share of the L3: the L3 divided among the cores that share it (Zen 4: 32 MiB / 8 = 4 MiB). This is what the
    /// machine reports; a VM guest may list the host's whole L3 as shared by its few vCPUs (<see cref="IntelXeon2026"/>:
    /// 130 MiB "per core"), and the route policy bounds what it counts.
    /// </summary>
    public long L3PerCore => L3 / Math.Max(1, Math.Max(L3SharedBy, 1) / ThreadsPerCore);

    /// <summary>One line for reports: <c>L1d 48 KiB, L2 2 MiB (1 thread), L3 260 MiB (2 threads); from sysfs</c>.</summary>
    public override string ToString()
    {
        string level3 = L3 > 0 ? $", L3 {Size(L3)} ({Threads(L3SharedBy)})" : ", no L3";
        return $"L1d {Size(L1Data)} ({Threads(L1SharedBy)}), L2 {Size(L2)} ({Threads(L2SharedBy)}){level3}; from {Source.ToString().ToLowerInvariant()}";

        static string Threads(int n) => n == 1 ? "1 thread" : string.Create(CultureInfo.InvariantCulture, $"{n} threads");
    }

    /// <summary>Reads the machine's caches: sysfs, else CPUID, else <see cref="Default"/>. Never throws.</summary>
    internal static CacheTopology ReadMachine()
    {
        try
        {
            if (OperatingSystem.IsLinux() && FromSysfs("/sys/devices/system/cpu/cpu0/cache") is { } sysfs)
            {
                return sysfs;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException or ArgumentException)
        {
            // A sysfs that cannot be read (a container that hides it, an odd format) falls through to CPUID.
        }

        return FromCpuid() ?? Default;
    }

    /// <summary>
    /// The caches listed under <paramref name="directory"/> in sysfs's layout (<c>index0</c>, <c>index1</c>, … each with
    /// <c>level</c>, <c>type</c>, <c>size</c>, <c>shared_cpu_list</c>); null when there is no such directory or no L1d.
    /// </summary>
    internal static CacheTopology? FromSysfs(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return null;
        }

        var levels = new CacheLevels();
        foreach (string index in Directory.EnumerateDirectories(directory, "index*"))
        {
            string? level = ReadLine(Path.Combine(index, "level"));
            string? type = ReadLine(Path.Combine(index, "type"));
            string? size = ReadLine(Path.Combine(index, "size"));
            if (level is null || type is null || size is null || type == "Instruction")
            {
                continue;
            }

            string? shared = ReadLine(Path.Combine(index, "shared_cpu_list"));
            levels.Add(int.Parse(level, CultureInfo.InvariantCulture), ParseSize(size), shared is null ? 1 : CountCpus(shared));
        }

        return levels.ToTopology(CacheSource.Sysfs);
    }

    /// <summary>The caches from CPUID's deterministic cache parameters; null off x86 or when the leaf is missing.</summary>
    internal static CacheTopology? FromCpuid()
    {
        if (!X86Base.IsSupported)
        {
            return null;
        }

        (int _, int b, int c, int d) = X86Base.CpuId(0, 0);
        bool amd = IsVendor(b, d, c, "AuthenticAMD") || IsVendor(b, d, c, "HygonGenuine");
        int leaf;
        if (amd)
        {
            // 0x8000001D needs the TOPOEXT feature (CPUID 0x80000001 ECX bit 22).
            (int extended, _, _, _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            if ((uint)extended < 0x8000001D || (X86Base.CpuId(unchecked((int)0x80000001), 0).Ecx & (1 << 22)) == 0)
            {
                return null;
            }

            leaf = unchecked((int)0x8000001D);
        }
        else
        {
            (int basic, _, _, _) = X86Base.CpuId(0, 0);
            if (basic < 4)
            {
                return null;
            }

            leaf = 4;
        }

        var levels = new CacheLevels();
        for (int sub = 0; sub < 16; sub++)
        {
            (int eax, int ebx, int ecx, _) = X86Base.CpuId(leaf, sub);
            if (DecodeCpuidLeaf(eax, ebx, ecx) is not { } cache)
            {
                break;
            }

            if (cache.Type != 2)
            {
                levels.Add(cache.Level, cache.Bytes, cache.SharedBy);
            }
        }

        return levels.ToTopology(CacheSource.Cpuid);
    }

    /// <summary>
    /// One subleaf of CPUID leaf 4 / 0x8000001D: type in EAX[4:0] (0 = no more caches, 1 data, 2 instruction, 3 unified),
    /// level in EAX[7:5], logical CPUs sharing it − 1 in EAX[25:14]; line size − 1 in EBX[11:0], partitions − 1 in
    /// EBX[21:12], ways − 1 in EBX[31:22]; sets − 1 in ECX. Null for type 0.
    /// </summary>
    internal static (int Type, int Level, long Bytes, int SharedBy)? DecodeCpuidLeaf(int eax, int ebx, int ecx)
    {
        int type = eax & 0x1F;
        if (type == 0)
        {
            return null;
        }

        int level = (eax >> 5) & 0x7;
        int sharedBy = ((eax >> 14) & 0xFFF) + 1;
        long line = (ebx & 0xFFF) + 1L;
        long partitions = ((ebx >> 12) & 0x3FF) + 1L;
        long ways = ((ebx >>> 22) & 0x3FF) + 1L;
        long sets = (uint)ecx + 1L;
        return (type, level, ways * partitions * line * sets, sharedBy);
    }

    /// <summary>A sysfs size: a number of bytes with an optional <c>K</c>, <c>M</c> or <c>G</c> (binary) suffix.</summary>
    internal static long ParseSize(string text)
    {
        string s = text.Trim();
        long unit = 1;
        if (s.Length > 0 && char.ToUpperInvariant(s[^1]) is 'K' or 'M' or 'G')
        {
            unit = char.ToUpperInvariant(s[^1]) switch { 'K' => KiB, 'M' => MiB, _ => 1024 * MiB };
            s = s[..^1];
        }

        return checked(long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture) * unit);
    }

    /// <summary>How many CPUs a sysfs CPU list names: <c>0-7,64-71</c> is 16.</summary>
    internal static int CountCpus(string list)
    {
        int count = 0;
        foreach (string part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            count += dash < 0
                ? 1
                : int.Parse(part[(dash + 1)..], CultureInfo.InvariantCulture) - int.Parse(part[..dash], CultureInfo.InvariantCulture) + 1;
        }

        return Math.Max(count, 1);
    }

    private static string? ReadLine(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    private static bool IsVendor(int ebx, int edx, int ecx, string vendor)
    {
        Span<byte> bytes = stackalloc byte[12];
        BitConverter.TryWriteBytes(bytes, ebx);
        BitConverter.TryWriteBytes(bytes[4..], edx);
        BitConverter.TryWriteBytes(bytes[8..], ecx);
        for (int k = 0; k < 12; k++)
        {
            if (bytes[k] != vendor[k])
            {
                return false;
            }
        }

        return true;
    }

    private static string Size(long bytes) =>
        bytes >= MiB && bytes % MiB == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / MiB} MiB") :
        bytes >= MiB ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)MiB:0.#} MiB") :
        string.Create(CultureInfo.InvariantCulture, $"{bytes / KiB} KiB");

    /// <summary>The data and unified caches of levels 1–3 as they are found, then checked into a topology.</summary>
    private sealed class CacheLevels
    {
        private readonly long[] bytes = new long[4];
        private readonly int[] sharedBy = new int[4];

        public void Add(int level, long size, int shared)
        {
            if (level is >= 1 and <= 3 && size > 0)
            {
                bytes[level] = size;
                sharedBy[level] = Math.Max(shared, 1);
            }
        }

        /// <summary>Null without an L1d: then nothing was read that the heuristics could trust.</summary>
        public CacheTopology? ToTopology(CacheSource source) =>
            bytes[1] == 0 ? null : new(bytes[1], sharedBy[1], bytes[2], Math.Max(sharedBy[2], 1), bytes[3], Math.Max(sharedBy[3], 1), source);
    }
}
