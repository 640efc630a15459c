using System.Globalization;
using System.Runtime.InteropServices;

namespace LstmKernels.Benchmarks;

/// <summary>The one line that says where numbers came from: CPU, cores, caches (as the route policy reads them), runtime, vector path and date.</summary>
internal static class Machine
{
    public static string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Cpu()}, {Environment.ProcessorCount} logical cores; caches: {LstmKernels.Internal.CacheTopology.Machine}; {RuntimeInformation.FrameworkDescription}; " +
        $"Kernels.ActivePath = {Kernels.ActivePath}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

    /// <summary>The model name and signature of the first CPU in /proc/cpuinfo; the OS architecture elsewhere.</summary>
    private static string Cpu()
    {
        const string CpuInfo = "/proc/cpuinfo";
        if (!File.Exists(CpuInfo))
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }

        string name = "unknown CPU", family = "?", model = "?";
        bool avx512 = false;
        foreach (string line in File.ReadLines(CpuInfo))
        {
            if (line.Length == 0)
            {
                break; // the end of the first processor's block; the others repeat it
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "model name": name = value; break;
                case "cpu family": family = value; break;
                case "model": model = value; break;
                case "flags": avx512 = value.Split(' ').Contains("avx512f"); break;
                default: break;
            }
        }

        return $"{name} (family {family}, model {model}{(avx512 ? ", AVX-512" : string.Empty)})";
    }
}
