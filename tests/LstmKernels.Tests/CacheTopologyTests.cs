using System.Runtime.Intrinsics.X86;
using LstmKernels.Internal;

namespace LstmKernels.Tests;

/// <summary>The machine's cache description (Internal/CacheTopology.cs): sysfs and CPUID decoding, and the fallbacks.</summary>
public sealed class CacheTopologyTests
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    [Theory]
    [InlineData("48K", 48 * KiB)]
    [InlineData("2048K", 2 * MiB)]
    [InlineData("260M", 260 * MiB)]
    [InlineData("1G", 1024 * MiB)]
    [InlineData("65536\n", 64 * KiB)]
    public void ParseSize_ReadsSysfsSizes(string text, long bytes) => Assert.Equal(bytes, CacheTopology.ParseSize(text));

    [Theory]
    [InlineData("0", 1)]
    [InlineData("0-1", 2)]
    [InlineData("0,2,4", 3)]
    [InlineData("0-7,64-71\n", 16)]
    [InlineData("", 1)]
    public void CountCpus_ReadsSysfsLists(string list, int count) => Assert.Equal(count, CacheTopology.CountCpus(list));

    [Fact]
    public void FromSysfs_ReadsAZen4Layout_AndSkipsTheInstructionCache()
    {
        string root = Directory.CreateTempSubdirectory("lstmkernels-cache-").FullName;
        try
        {
            Write(root, 0, 1, "Data", "32K", "0,8");
            Write(root, 1, 1, "Instruction", "32K", "0,8");
            Write(root, 2, 2, "Unified", "1024K", "0,8");
            Write(root, 3, 3, "Unified", "32768K", "0-7,64-71");
            Assert.Equal(CacheTopology.Zen4 with { Source = CacheSource.Sysfs }, CacheTopology.FromSysfs(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void FromSysfs_WithoutTheDirectoryOrAnL1d_IsNull_AndBadFilesThrowForReadMachineToCatch()
    {
        string root = Directory.CreateTempSubdirectory("lstmkernels-cache-").FullName;
        try
        {
            Assert.Null(CacheTopology.FromSysfs(Path.Combine(root, "missing")));
            Assert.Null(CacheTopology.FromSysfs(root));
            Write(root, 2, 2, "Unified", "1024K", "0");
            Assert.Null(CacheTopology.FromSysfs(root));
            Write(root, 0, 1, "Data", "lots", "0");
            Assert.Throws<FormatException>(() => CacheTopology.FromSysfs(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>CPUID leaf 4 / 0x8000001D: a 2 MiB, 16-way L2 of 64-byte lines in 2048 sets, shared by 2 logical CPUs.</summary>
    [Fact]
    public void DecodeCpuidLeaf_ComputesTheSize()
    {
        int eax = 3 | (2 << 5) | ((2 - 1) << 14);
        int ebx = (64 - 1) | (0 << 12) | ((16 - 1) << 22);
        Assert.Equal((3, 2, 2 * MiB, 2), CacheTopology.DecodeCpuidLeaf(eax, ebx, 2048 - 1));
        Assert.Null(CacheTopology.DecodeCpuidLeaf(0, ebx, 2047));
    }

    /// <summary>On x86 CPUID gives the same L1d and L2 sizes as sysfs (where both can be read).</summary>
    [Fact]
    public void FromCpuid_AgreesWithSysfs()
    {
        CacheTopology? cpuid = CacheTopology.FromCpuid();
        Assert.Equal(X86Base.IsSupported, cpuid is not null);
        CacheTopology? sysfs = OperatingSystem.IsLinux() ? CacheTopology.FromSysfs("/sys/devices/system/cpu/cpu0/cache") : null;
        if (cpuid is not null && sysfs is not null)
        {
            Assert.Equal(sysfs.L1Data, cpuid.L1Data);
            Assert.Equal(sysfs.L2, cpuid.L2);
            Assert.Equal(CacheSource.Cpuid, cpuid.Source);
        }
    }

    [Fact]
    public void ReadMachine_NeverThrows_AndDescribesItself()
    {
        CacheTopology machine = CacheTopology.ReadMachine();
        Assert.NotEqual(CacheSource.Synthetic, machine.Source);
        Assert.Equal(machine, CacheTopology.ReadMachine());
        Assert.Contains("L1d", machine.ToString(), StringComparison.Ordinal);
        Assert.Equal("L1d 32 KiB (2 threads), L2 1 MiB (2 threads), L3 32 MiB (16 threads); from synthetic", CacheTopology.Zen4.ToString());
        Assert.Equal("L1d 32 KiB (1 thread), L2 256 KiB (1 thread), no L3; from default", CacheTopology.Default.ToString());
    }

    private static void Write(string root, int index, int level, string type, string size, string shared)
    {
        string directory = Path.Combine(root, $"index{index}");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "level"), $"{level}\n");
        File.WriteAllText(Path.Combine(directory, "type"), $"{type}\n");
        File.WriteAllText(Path.Combine(directory, "size"), $"{size}\n");
        File.WriteAllText(Path.Combine(directory, "shared_cpu_list"), $"{shared}\n");
    }
}
