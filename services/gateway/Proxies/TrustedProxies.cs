using System.Net;
using System.Net.Sockets;

namespace EasyIm.Gateway.Proxies;

/// <summary>
/// <c>Gateway:TrustedProxies</c>: the addresses and networks whose word about the client's address is
/// believed (their PROXY protocol header, their X-Forwarded-For). Empty by default: then every peer is
/// the client itself, and nothing it says about another address counts.
/// </summary>
public sealed class TrustedProxies
{
    public const string Key = "Gateway:TrustedProxies";

    private TrustedProxies(IReadOnlyList<IPNetwork> networks) => Networks = networks;

    public static readonly TrustedProxies None = new([]);

    /// <summary>The networks, IPv4 ones as written (an IPv4 peer on a dual-mode socket is compared as IPv4).</summary>
    public IReadOnlyList<IPNetwork> Networks { get; }

    public bool IsEmpty => Networks.Count == 0;

    /// <summary>Parses a list of addresses and CIDR networks separated by commas, semicolons or spaces; a bad entry stops the start naming the key.</summary>
    public static TrustedProxies Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return None;
        var networks = new List<IPNetwork>();
        foreach (var entry in text.Split([',', ';', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (entry.Contains('/') ? IPNetwork.TryParse(entry, out var network) : TryHost(entry, out network))
                networks.Add(network);
            else
                throw new Hosting.StartupException(
                    $"{Key} must list IP addresses or networks (e.g. 10.0.0.5, 172.30.0.0/24, fd00::/8) separated by commas, not '{entry}'.");
        }
        return new TrustedProxies(networks);

        static bool TryHost(string entry, out IPNetwork network)
        {
            network = default;
            if (!IPAddress.TryParse(entry, out var address))
                return false;
            address = Normalize(address);
            network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
    }

    public bool Contains(IPAddress? address)
    {
        if (address is null || IsEmpty)
            return false;
        address = Normalize(address);
        foreach (var network in Networks)
        {
            if (network.Contains(address))
                return true;
        }
        return false;
    }

    /// <summary>An IPv4 peer of a dual-mode (IPv6) socket is ::ffff:a.b.c.d: compared, keyed and logged as a.b.c.d.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
