using System.Net;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// Distinct loopback addresses (Linux routes all of 127.0.0.0/8 to the loopback interface, no setup needed):
/// 127.1.0.1, 127.1.0.2, ... The server budgets each client address; in the abuse scenario every person
/// (each bystander registering, each HTTP attacker) comes from an address of its own, as on the internet,
/// so the budgets stay as shipped and only the attacker spends its own. Never 127.0.0.x, where the
/// tool's connections come from.
/// </summary>
public sealed class LoopbackAddresses
{
    private const int PerThirdOctet = 254;
    public const int Capacity = 254 * 256 * PerThirdOctet;

    private int _next;

    public IPAddress Next()
    {
        var n = Interlocked.Increment(ref _next) - 1;
        if (n >= Capacity)
            throw new InvalidOperationException($"more than {Capacity} loopback addresses asked for");
        return new IPAddress([127, (byte)(1 + n / (256 * PerThirdOctet)), (byte)(n / PerThirdOctet % 256), (byte)(n % PerThirdOctet + 1)]);
    }
}
