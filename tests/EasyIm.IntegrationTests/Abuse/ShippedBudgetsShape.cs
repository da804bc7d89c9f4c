using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// A standalone server of its own with the per-address budgets as shipped (the shared shapes raise them,
/// EasyImShape.LoopbackBudgets): for attacks that spend an address's budget, which on a shared server
/// would throttle every other test's 127.0.0.1. Each attack comes from a loopback address of its own.
/// </summary>
public sealed class ShippedBudgetsShape : StandaloneShape
{
    public override string Name => "standalone with shipped budgets";

    protected override void Configure(Dictionary<string, string?> settings)
    {
        foreach (var key in EasyImShape.LoopbackBudgets.Keys)
            settings.Remove(key);
    }
}

/// <summary>
/// A standalone server of its own behind a pretend TCP proxy on 127.0.0.2 (<c>Gateway:TrustedProxies</c>),
/// which must open each connection with a PROXY protocol header; small address budgets, so that spending
/// one is quick.
/// </summary>
public sealed class ProxiedShape : StandaloneShape
{
    public const string Proxy = "127.0.0.2";
    public const int RefreshBudget = 5;

    public override string Name => "standalone behind a trusted proxy";

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:TrustedProxies"] = Proxy;
        settings["Gateway:Throttle:Refresh:Limit"] = RefreshBudget.ToString();
        settings["Gateway:Throttle:Refresh:WindowSeconds"] = "3600";
    }
}

/// <summary>
/// A standalone server of its own behind a pretend HTTP reverse proxy on 127.0.0.2 (<c>Gateway:TrustedProxies</c>
/// with <c>Gateway:ProxyProtocol=false</c>): its <c>X-Forwarded-For</c> names the client.
/// </summary>
public sealed class HttpProxiedShape : StandaloneShape
{
    public const string Proxy = "127.0.0.2";
    public const int RefreshBudget = 3;

    public override string Name => "standalone behind a trusted HTTP proxy";

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:TrustedProxies"] = Proxy;
        settings["Gateway:ProxyProtocol"] = "false";
        settings["Gateway:Throttle:Refresh:Limit"] = RefreshBudget.ToString();
        settings["Gateway:Throttle:Refresh:WindowSeconds"] = "3600";
    }
}
