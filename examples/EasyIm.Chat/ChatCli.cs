using System.CommandLine;
using EasyIm.Client;

namespace EasyIm.Chat;

/// <summary>easyim-chat's command line: where the server is, how to speak to it, and who to be.</summary>
public static class ChatCli
{
    public static RootCommand Build()
    {
        var host = new Option<string>("--host", "--ip", "-ip") { Description = "The server's address (easyim's client.go -ip)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-port") { Description = "Long connections port", DefaultValueFactory = _ => 8888 };
        var apiPort = new Option<int>("--apiport") { Description = "HTTP API port (login, friends, groups)", DefaultValueFactory = _ => 8889 };
        var transport = new Option<string>("--transport")
        {
            Description = "tcp-json, tcp-protobuf, ws-json or ws-protobuf",
            DefaultValueFactory = _ => "tcp-json",
        };
        transport.AcceptOnlyFromAmong("tcp-json", "tcp-protobuf", "ws-json", "ws-protobuf");
        var account = new Option<string?>("--account") { Description = "Log in as this account at start (else /login or /register)" };
        var password = new Option<string?>("--password") { Description = "The account's password" };
        var register = new Option<bool>("--register") { Description = "Create the account first (with --account and --password)" };

        var root = new RootCommand("easyim-chat: chat on an EasyIm server from a terminal. Type /help once connected.");
        foreach (var option in new Option[] { host, port, apiPort, transport, account, password, register })
            root.Options.Add(option);
        root.SetAction(async (parsed, cancellationToken) =>
        {
            var options = new ChatOptions(
                parsed.GetValue(host)!, parsed.GetValue(port), parsed.GetValue(apiPort),
                parsed.GetValue(transport) switch
                {
                    "tcp-protobuf" => ClientTransport.TcpProtobuf,
                    "ws-json" => ClientTransport.WebSocketJson,
                    "ws-protobuf" => ClientTransport.WebSocketProtobuf,
                    _ => ClientTransport.TcpJson,
                });
            await using var chat = new ChatConsole(options, Console.In, Console.Out);
            var login = parsed.GetValue(account);
            if (login is not null)
            {
                if (parsed.GetValue(password) is not { } secret)
                {
                    await Console.Error.WriteLineAsync("easyim-chat: --account needs --password");
                    return 2;
                }
                if (!await chat.LogInAsync(login, secret, parsed.GetValue(register), cancellationToken))
                    return 1;
            }
            return await chat.RunAsync(cancellationToken);
        });
        return root;
    }
}

public sealed record ChatOptions(string Host, int Port, int ApiPort, ClientTransport Transport);
