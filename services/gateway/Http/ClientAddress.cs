using System.Net;
using System.Net.Sockets;
using EasyIm.Gateway.Proxies;
using Microsoft.AspNetCore.Http;

namespace EasyIm.Gateway.Http;

/// <summary>The client address a request is budgeted by.</summary>
public static class ClientAddress
{
    /// <summary>
    /// The request's remote address (the client's, once a trusted proxy's PROXY header or X-Forwarded-For
    /// has been applied) as a budget key: an IPv4 address as itself, an IPv6 address as its /64, because
    /// one subscriber commonly holds a whole /64 and could otherwise draw a fresh budget per address.
    /// </summary>
    public static string Key(HttpContext context) => Key(context.Connection.RemoteIpAddress);

    public static string Key(IPAddress? address)
    {
        if (address is null)
            return "unknown";
        address = TrustedProxies.Normalize(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return address.ToString();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
