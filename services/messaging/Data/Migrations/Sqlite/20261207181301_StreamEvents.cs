using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class StreamEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "stream_events",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    position = table.Column<long>(type: "INTEGER", nullable: false),
                    event_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    from_user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    content = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stream_events", x => new { x.user_id, x.position });
                });

            migrationBuilder.CreateIndex(
                name: "IX_stream_events_created_at",
                table: "stream_events",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "IX_stream_events_event_id",
                table: "stream_events",
                column: "event_id",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "stream_events");
        }
    }
}
