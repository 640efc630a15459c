using System.Globalization;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LstmKernels;

namespace LstmService.LoadTest;

/// <summary>Where the numbers came from: CPU, cores, runtime, vector path, GC mode, load.</summary>
internal static class HostInfo
{
    public static string Cpu()
    {
        const string CpuInfo = "/proc/cpuinfo";
        if (!File.Exists(CpuInfo))
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }

        foreach (string line in File.ReadLines(CpuInfo))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is int colon and > 0)
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return "unknown CPU";
    }

    public static string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Cpu()}, {Environment.ProcessorCount} logical cores; {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.OSDescription}); " +
        $"Vector512 {(Vector512.IsHardwareAccelerated ? "accelerated" : "not accelerated")}, Kernels.ActivePath = {Kernels.ActivePath}; " +
        $"{Gc()}; " +
        $"{Configuration()} build");

    /// <summary>Whether DATAS (dynamic adaptation of the server GC's heap count) is on.</summary>
    public static bool Datas =>
        GCSettings.IsServerGC && GC.GetConfigurationVariables().TryGetValue("GCDynamicAdaptationMode", out object? mode) && Convert.ToInt64(mode, CultureInfo.InvariantCulture) != 0;

    private static string Gc()
    {
        IReadOnlyDictionary<string, object> config = GC.GetConfigurationVariables();
        string heaps = config.TryGetValue("HeapCount", out object? count) ? Convert.ToString(count, CultureInfo.InvariantCulture) ?? "?" : "?";
        return GCSettings.IsServerGC
            ? $"server GC, {heaps} heaps, {(Datas ? "DATAS on" : "DATAS off")}, {(GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent")}"
            : $"workstation GC, {(GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent")}";
    }

    /// <summary>The 1, 5 and 15 minute load averages from /proc/loadavg, or "unknown".</summary>
    public static string LoadAverage()
    {
        try
        {
            string[] parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return "unknown";
        }
    }

    private static string Configuration() =>
        typeof(HostInfo).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "unknown";
}
