using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EasyIm.BrowserTests;

/// <summary>One person's tab of the web client, found by roles and labels as a screen reader would.</summary>
public sealed class ChatPage(IPage page)
{
    public IPage Page => page;

    public ILocator Status => page.GetByRole(AriaRole.Status);
    public ILocator SignInError => page.Locator("#sign-in").GetByRole(AriaRole.Alert);
    public ILocator SideError => page.Locator(".side").GetByRole(AriaRole.Alert);
    public ILocator Chats => page.GetByRole(AriaRole.List, new() { Name = "Chats", Exact = true });
    public ILocator Messages => page.GetByRole(AriaRole.Log, new() { Name = "Messages" });
    public ILocator MessageTexts => Messages.Locator("li p.text");
    public ILocator MessageBox => page.GetByLabel("Message", new() { Exact = true });
    public ILocator SendButton => page.GetByRole(AriaRole.Button, new() { Name = "Send", Exact = true });
    public ILocator ConversationTitle => page.Locator("#conversation-title");
    /// <summary>Errors of the open chat's actions (adding members, leaving, older history), above its messages.</summary>
    public ILocator PaneError => page.Locator(".pane").GetByRole(AriaRole.Alert);
    public ILocator MemberCount => page.Locator("#member-count");
    public ILocator MemberList => page.GetByRole(AriaRole.List, new() { Name = "Members", Exact = true });
    public ILocator ConfirmDialog => page.GetByRole(AriaRole.Dialog);
    public ILocator LoadOlder => Button("Load older messages");

    public ILocator Chat(string name) => Chats.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });
    /// <summary>The unread badge beside a chat: "3 unread" to a screen reader, a red 3 on screen.</summary>
    public ILocator Badge(string name) => Chats.GetByRole(AriaRole.Listitem)
        .Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true }) })
        .Locator(".badge");

    public ILocator Message(string text) =>
        Messages.GetByRole(AriaRole.Listitem).Filter(new() { Has = page.GetByText(text, new() { Exact = true }) });

    public ILocator Tick(string text) => Message(text).GetByRole(AriaRole.Img);

    public async Task OpenAsync(Uri address)
    {
        await page.GotoAsync(address.ToString());
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "EasyIm" })).ToBeVisibleAsync();
    }

    public async Task FillSignInAsync(string account, string password, string? nickname = null)
    {
        await page.GetByLabel("Account").FillAsync(account);
        await page.GetByLabel("Password").FillAsync(password);
        if (nickname is not null)
            await page.GetByLabel("Nickname").FillAsync(nickname);
    }

    public async Task RegisterAsync(string account, string password, string nickname)
    {
        await FillSignInAsync(account, password, nickname);
        await page.GetByRole(AriaRole.Button, new() { Name = "Register" }).ClickAsync();
        await Expect(Status).ToHaveTextAsync("Online");
    }

    public async Task LogInAsync(string account, string password)
    {
        await FillSignInAsync(account, password);
        await ClickLogInAsync();
        await Expect(Status).ToHaveTextAsync("Online");
    }

    /// <summary>Clicks an action that asks first, and answers the page's confirmation with <paramref name="answer"/>.</summary>
    public async Task ConfirmAsync(string action, string question, string answer)
    {
        await Button(action).ClickAsync();
        await Expect(ConfirmDialog).ToContainTextAsync(question);
        await ConfirmDialog.GetByRole(AriaRole.Button, new() { Name = answer, Exact = true }).ClickAsync();
        await Expect(ConfirmDialog).ToBeHiddenAsync();
    }

    public async Task ClickLogInAsync() => await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();

    public async Task SearchAsync(string keyword)
    {
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search users" }).FillAsync(keyword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
    }

    public ILocator Button(string name) => page.GetByRole(AriaRole.Button, new() { Name = name, Exact = true });

    public async Task OpenChatAsync(string name)
    {
        await Chat(name).ClickAsync();
        await Expect(ConversationTitle).ToHaveTextAsync(name);
    }

    /// <summary>Types a message and sends it; it shows at once, before the server has answered.</summary>
    public async Task SendAsync(string text)
    {
        await MessageBox.FillAsync(text);
        await SendButton.ClickAsync();
        await Expect(Message(text)).ToHaveCountAsync(1);
    }

    public Task DropConnectionAsync() => page.EvaluateAsync("window.easyim.dropConnection()");
    public Task PauseConnectionAsync() => page.EvaluateAsync("window.easyim.pauseConnection()");
    public Task ResumeConnectionAsync() => page.EvaluateAsync("window.easyim.resumeConnection()");
}
