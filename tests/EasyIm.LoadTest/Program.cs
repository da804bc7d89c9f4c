using System.CommandLine;
using System.Globalization;
using EasyIm.Client;
using EasyIm.LoadTest;

// Run by hand (not in CI): dotnet run -c Release --project tests/EasyIm.LoadTest -- --pairs 50 --messages 400
var pairs = new Option<int>("--pairs") { Description = "Sender/receiver pairs, one connection each", DefaultValueFactory = _ => 50 };
var messages = new Option<int>("--messages") { Description = "Messages each sender sends", DefaultValueFactory = _ => 400 };
var window = new Option<int>("--window") { Description = "Messages a sender keeps awaiting their SENT ack", DefaultValueFactory = _ => 32 };
var transport = new Option<ClientTransport>("--transport") { Description = "How the clients connect", DefaultValueFactory = _ => ClientTransport.TcpJson };
var seconds = new Option<int>("--seconds") { Description = "Give up on a run after this long", DefaultValueFactory = _ => 120 };
var noBaseline = new Option<bool>("--no-baseline") { Description = "Skip the bare relay baseline" };

var root = new RootCommand("EasyIm load test: one-to-one messages over real sockets against a standalone server it starts, and a bare relay as the baseline.");
foreach (var option in new Option[] { pairs, messages, window, transport, seconds, noBaseline })
    root.Options.Add(option);
root.SetAction(async parsed =>
{
    var options = new WorkloadOptions(parsed.GetValue(pairs), parsed.GetValue(messages), parsed.GetValue(window),
        parsed.GetValue(transport), TimeSpan.FromSeconds(parsed.GetValue(seconds)));
    // A process may open at most 20,000 files here; the server is another process.
    if (options.Pairs * 2 > 15_000)
    {
        Console.Error.WriteLine("at most 7,500 pairs per load process (the open-file limit); run several processes");
        return 2;
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{options.Pairs} pairs x {options.MessagesPerSender} messages, window {options.Window}, {options.Transport}, {Environment.ProcessorCount} cores"));

    await using (var server = await ServerProcess.StartAsync(new Dictionary<string, string>
    {
        ["Messaging:RequireFriendship"] = "false",
        ["Gateway:RateLimit:PerSecond"] = "1000000",
        ["Gateway:RateLimit:Burst"] = "1000000",
    }))
    {
        var accounts = await Workload.RegisterAsync(new Uri($"http://127.0.0.1:{server.ApiPort}"), options.Pairs * 2);
        // A short warm-up run first: JIT, connection pools and SQLite pages.
        await Workload.RunAsync("warm-up", "127.0.0.1", server.Port, accounts, options with { MessagesPerSender = Math.Min(20, options.MessagesPerSender) });
        var easyim = await Workload.RunAsync("easyim standalone", "127.0.0.1", server.Port, accounts, options);
        Console.WriteLine(easyim.Describe());

        if (!parsed.GetValue(noBaseline))
        {
            await using var relay = await BaselineRelay.StartAsync();
            var baselineOptions = options with { Transport = ClientTransport.TcpJson };
            await Workload.RunAsync("warm-up", "127.0.0.1", relay.Port, accounts, baselineOptions with { MessagesPerSender = Math.Min(20, options.MessagesPerSender) });
            var baseline = await Workload.RunAsync("bare relay (baseline)", "127.0.0.1", relay.Port, accounts, baselineOptions);
            Console.WriteLine(baseline.Describe());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ratio: easyim delivers {easyim.PerSecond / baseline.PerSecond:P1} of the baseline's msg/s; p99 latency x{(double)easyim.Latency.GetValueAtPercentile(99) / Math.Max(1, baseline.Latency.GetValueAtPercentile(99)):F1}"));
        }
        return easyim.Delivered == easyim.Sent ? 0 : 1;
    }
});
return await root.Parse(args).InvokeAsync();
