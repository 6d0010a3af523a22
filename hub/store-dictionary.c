/* SPDX-License-Identifier: MIT */
#include "store-dictionary.h"

/* Samples are small (1-3 KB) and nearly all alike: most of their bytes are
 * the same keys in the same order. A zstd dictionary made of typical samples
 * lets the first bytes of each frame refer back to it instead of spelling
 * the keys out (bench/hub-store measures the difference). Version 1 is this
 * text as raw content, readable here and usable by any zstd. */
const char body_dictionary_v1[] =
        "{\"type\":\"CLIENT_DATA\",\"cpu\":12.5,\"mem\":8513,\"storage\":81720,\"unix_time\":1651155333}"
        "{\"action\":\"send_stats\",\"system_id\":\"host-01\",\"url\":\"http://hub:8757/system-monitor\","
        "\"interval\":60,\"epoch\":1700000000,\"stats\":{\"cpu\":{\"count\":8,\"frequency\":2400,"
        "\"percent_used\":12.5},\"memory\":{\"total\":16777216000,\"available\":8388608000,"
        "\"percent_used\":50.0,\"used\":8388608000,\"free\":4194304000},\"processes\":[{\"pid\":1,"
        "\"name\":\"systemd\",\"username\":\"root\"},{\"pid\":412,\"name\":\"sshd\",\"username\":\"root\"}],"
        "\"disks\":{\"/dev/sda1\":{\"file_system\":\"ext4\",\"mount_point\":\"/\",\"total\":107374182400,"
        "\"used\":53687091200,\"free\":53687091200}},\"network\":{\"eth0\":{\"ip\":\"192.168.1.100\","
        "\"netmask\":\"255.255.255.0\",\"bytes_sent\":123456789,\"bytes_recv\":987654321}}}}"
        "{\"timestamp\":\"2024-01-15T10:30:45Z\",\"node_id\":\"192.168.1.100\",\"seq\":1234,\"interval\":10,"
        "\"metrics\":{\"cpu\":{\"cpu_usage_percent\":45.2,\"cpu_per_core_percent\":[50.1,40.3,12.5,3.25,"
        "0.5,1.02,7.75,100],\"load_avg_1min\":2.5,\"load_avg_5min\":2.1,\"load_avg_15min\":1.8,\"count\":8,"
        "\"frequency_mhz\":2694.88},\"memory\":{\"memory_total_gb\":16,\"memory_used_gb\":8.5,"
        "\"memory_available_gb\":7.5,\"memory_usage_percent\":53.1,\"swap_total_gb\":4,\"swap_used_gb\":0.5,"
        "\"swap_usage_percent\":12.5},\"disk\":{\"disk_usage\":{\"/\":{\"total_gb\":100,\"used_gb\":60,"
        "\"free_gb\":40,\"usage_percent\":60,\"device\":\"/dev/sda1\",\"file_system\":\"ext4\"},\"/boot\":{"
        "\"total_gb\":0.94,\"used_gb\":0.12,\"free_gb\":0.76,\"usage_percent\":13.63,\"device\":\"/dev/nvme0n1p2\","
        "\"file_system\":\"xfs\"}},\"disk_io\":{\"read_mb_per_sec\":5.2,\"write_mb_per_sec\":2.1}},"
        "\"network\":{\"bytes_sent_mb_per_sec\":1.5,\"bytes_recv_mb_per_sec\":3.2,\"packets_sent\":1234567,"
        "\"packets_recv\":2345678,\"active_connections\":45,\"interfaces\":{\"eth0\":{\"bytes_sent\":214761,"
        "\"bytes_recv\":191949903,\"packets_sent\":2626,\"packets_recv\":4720,\"errin\":0,\"errout\":0,"
        "\"dropin\":0,\"dropout\":0},\"docker0\":{\"bytes_sent\":0,\"bytes_recv\":0,\"packets_sent\":0,"
        "\"packets_recv\":0,\"errin\":0,\"errout\":0,\"dropin\":0,\"dropout\":0}}},\"processes\":{"
        "\"process_count\":234,\"top_memory_processes\":[{\"pid\":1234,\"name\":\"chrome\",\"memory_percent\":15.2,"
        "\"username\":\"alice\"},{\"pid\":2211,\"name\":\"postgres\",\"memory_percent\":4.61,\"username\":"
        "\"postgres\"},{\"pid\":981,\"name\":\"java\",\"memory_percent\":3.07,\"username\":\"www-data\"},"
        "{\"pid\":1,\"name\":\"systemd\",\"memory_percent\":0.06,\"username\":\"root\"},{\"pid\":28949,\"name\":"
        "\"telemetryd\",\"memory_percent\":0.02,\"username\":\"root\"}]},\"custom\":{}},\"stream\":"
        "\"5f0c2a7e-3b1d-4c39-9d6e-2f8a1b7c4e90\"}";

const size_t body_dictionary_v1_size = sizeof(body_dictionary_v1) - 1;
